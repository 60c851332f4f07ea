/* map_allo — placeholder until the mapper lands: every event is stored raw as unmapped. */
#include "field.h"
#include "platform.h"

void map_allo(const struct map_input *in, struct mapped *m)
{
	m->event_type = field_str(m, in->root, "event");
	m->status = MAP_UNMAPPED;
}
