/* hostlist: counting, finding and rotating libpq's host lists. */
#include "harness.h"
#include "hostlist.h"

int main(void)
{
	char out[64];

	ok(hostlist_count("db1") == 1, "one host");
	ok(hostlist_count("db1,db2,db3") == 3, "three hosts");
	ok(hostlist_count("5432") == 1, "one port");

	ok(hostlist_find("db1,db2,db3", "db2") == 1, "found in the middle");
	ok(hostlist_find("db1,db2,db3", "db3") == 2, "found last");
	ok(hostlist_find("db1,db2", "db") == -1, "a prefix is not the item");
	ok(hostlist_find("db1,db2", "db22") == -1, "a longer name is not the item");
	ok(hostlist_find("127.0.0.1,127.0.0.1", "127.0.0.1") == 0, "the first of equal items");

	ok(hostlist_find_pair("h,h", "5432,5433", "h", "5433") == 1, "the same host: by its port");
	ok(hostlist_find_pair("a,b", "5432,5432", "b", "5432") == 1, "the same port: by its host");
	ok(hostlist_find_pair("a,b", "5432", "b", "5432") == 1, "one port for all: by host");
	ok(hostlist_find_pair("a,b", NULL, "b", NULL) == 1, "no ports: by host");
	ok(hostlist_find_pair("a,b", "1,2", "b", "1") == -1, "host and port must both match");

	ok(hostlist_rotate("a,b,c", 3, 1, out, sizeof out), "rotates");
	is_str(out, "b,c,a", "a,b,c from 1");
	hostlist_rotate("a,b,c", 3, 2, out, sizeof out);
	is_str(out, "c,a,b", "a,b,c from 2");
	hostlist_rotate("a,b,c", 3, 0, out, sizeof out);
	is_str(out, "a,b,c", "from 0: as it is");
	hostlist_rotate("5432", 3, 1, out, sizeof out);
	is_str(out, "5432", "a single port for every host: as it is");
	hostlist_rotate("5432,5433", 2, 1, out, sizeof out);
	is_str(out, "5433,5432", "ports rotated with their hosts");
	hostlist_rotate("[::1],db2", 2, 1, out, sizeof out);
	is_str(out, "db2,[::1]", "any text between the commas");
	ok(!hostlist_rotate("first-host,second-host", 2, 1, out, 10) && out[0] == '\0',
	   "too small: false, nothing half-written");
	return done_testing();
}
