/* sources: parsing the sources file, and its errors with line numbers. */
#include "harness.h"
#include "platform.h"
#include "sources.h"

static char err[512];

static int parse(const char *text, struct sources_section **s, int *n)
{
	err[0] = '\0';
	return sources_parse("sources.ini", text, s, n, err, sizeof err);
}

/* The error of a text that must not parse. */
static const char *refused(const char *text)
{
	struct sources_section *s = NULL;
	int n = 0;
	if (parse(text, &s, &n) == 0) {
		sources_sections_free(s, n);
		return "(parsed)";
	}
	return err;
}

int main(void)
{
	struct sources_section *s = NULL;
	int n = 0;
	ok(parse("; clients\n"
		 "[simpleai.acme]\n"
		 "secret = env:ACME_SIMPLEAI_SECRET     ; a literal, env:NAME or file:PATH\n"
		 "token  = file:/run/secrets/acme_token # bearer token\n"
		 "\n"
		 "[allo.globex]\r\n"
		 "secret = whsec_abc,whsec_def\r\n"
		 "path_token = \"p;q#r\"\n"
		 "tolerance = 600\n"
		 "insecure = no\n"
		 "precall_scope = source\n"
		 "timezone = Europe/Paris\n",
		 &s, &n) == 0,
	   "the contract's example parses: %s", err);
	ok(n == 2, "two sources");
	is_str(platforms[s[0].platform].slug, "simpleai", "platform of the first");
	is_str(s[0].name, "acme", "its name");
	is_str(s[0].secret, "env:ACME_SIMPLEAI_SECRET", "a value without its comment");
	is_str(s[0].token, "file:/run/secrets/acme_token", "# comments too");
	ok(s[0].line == 2 && s[1].line == 6, "section lines");
	is_str(s[1].secret, "whsec_abc,whsec_def", "CRLF line ends");
	is_str(s[1].path_token, "p;q#r", "a quoted value keeps ; and #");
	ok(s[1].tolerance == 600 && !s[1].insecure && s[1].own_rows_only, "numbers and flags");
	is_str(s[1].timezone, "Europe/Paris", "timezone");
	sources_sections_free(s, n);

	ok(parse("", &s, &n) == 0 && n == 0, "an empty file: no sources");
	sources_sections_free(s, n);
	ok(parse("\xEF\xBB\xBF[simz.a]\nsecret=x\n", &s, &n) == 0 && n == 1,
	   "a byte order mark is ignored");
	sources_sections_free(s, n);

	is_str(refused("[simz.a]\nsecret = x\n[vapi.b]\n"),
	       "sources.ini:3: [vapi.b]: no platform 'vapi' (callbridge platforms lists them)",
	       "an unknown platform, with its line");
	is_str(refused("[simz.Acme]\n"),
	       "sources.ini:1: [simz.Acme]: a source name is 1 to 64 of a-z, 0-9, _ and -",
	       "an upper-case source name");
	ok(strstr(refused("[simz.default]\n"), "'default' is the source of /webhooks/simz"),
	   "default is reserved");
	is_str(refused("[simz.a]\n\n[simz.a]\n"),
	       "sources.ini:3: [simz.a]: already defined on line 1", "a source twice");
	ok(strstr(refused("secret = x\n"), "sources.ini:1: 'secret' before any"),
	   "a key before a section");
	ok(strstr(refused("[simz.a]\nsecert = x\n"), "sources.ini:2: unknown key 'secert'"),
	   "a misspelt key");
	ok(strstr(refused("[simz.a]\nsecret = x\nsecret = y\n"),
		  "sources.ini:3: secret: set twice in [simz.a] (line 2)"),
	   "a key twice");
	ok(strstr(refused("[simz.a]\ntolerance = soon\n"), "sources.ini:2: tolerance:"),
	   "a bad number");
	ok(strstr(refused("[simz.a]\ninsecure = maybe\n"), "sources.ini:2: insecure:"),
	   "a bad flag");
	ok(strstr(refused("[simz.a]\nprecall_scope = mine\n"), "sources.ini:2: precall_scope:"),
	   "a bad scope");
	ok(strstr(refused("[simz.a]\nsecret = \"x\n"), "sources.ini:2: secret: a quoted value"),
	   "an unclosed quote");
	ok(strstr(refused("[simz.a\n"), "sources.ini:1: a section is"), "an unclosed section");
	ok(strstr(refused("[simz]\n"), "sources.ini:1: [simz]: a section is [<platform>.<source>]"),
	   "a section without a source");
	ok(strstr(refused("[simz.a]\njust words\n"), "sources.ini:2: expected key = value"),
	   "a line that is nothing");
	ok(strstr(refused("[simz.a]\nsecret =\n"), "sources.ini:2: secret: empty"),
	   "an empty value");

	ok(sources_valid_name("acme-2_x", 8), "a-z, 0-9, - and _");
	ok(!sources_valid_name("", 0), "empty is no name");
	ok(!sources_valid_name("a.b", 3), "a dot is not in a name");
	char longname[70];
	memset(longname, 'a', sizeof longname);
	ok(sources_valid_name(longname, 64) && !sources_valid_name(longname, 65), "64 at most");
	return done_testing();
}
