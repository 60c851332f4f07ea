/* field — reading typed values out of parsed JSON for the mappers, leniently: a value of
 * the wrong type or shape reads as absent (NULL), never as an error, so one odd field
 * cannot cost a whole event. Paths are dotted ("call.direction"); JSON null is absent.
 *
 * Ownership: field_get borrows from the json-c tree; every other function returns a copy
 * in the struct mapped's arena. */
#ifndef CALLBRIDGE_FIELD_H
#define CALLBRIDGE_FIELD_H

#include <json-c/json.h>
#include <stdbool.h>

#include "rows.h"

json_object *field_get(json_object *obj, const char *path);

/* Strings as sent (numbers and booleans as their JSON text); empty strings read absent. */
const char *field_str(struct mapped *m, json_object *obj, const char *path);

/* A number, or a string holding one ("132", " 2.5 "), as canonical numeric text. */
const char *field_num(struct mapped *m, json_object *obj, const char *path);

/* true/false, or the strings "true"/"false"/"yes"/"no"/"1"/"0", as "true"/"false". */
const char *field_bool(struct mapped *m, json_object *obj, const char *path);

/* An ISO 8601 string, or unix seconds/milliseconds (number or numeric string), as
 * canonical UTC text (see ts.h). An ISO time without an offset is a wall time in
 * m->zone (the platform's CALLBRIDGE_<SLUG>_TIMEZONE; NULL: UTC). */
const char *field_ts(struct mapped *m, json_object *obj, const char *path);

/* An object, as compact JSON text (for jsonb columns); other types read absent. */
const char *field_object(struct mapped *m, json_object *obj, const char *path);

/* An array of strings (numbers taken as their text) as a PostgreSQL array literal:
 * {"a","b"}. With key set, objects holding a string under key count too
 * ([{"email": "a"}]). Other entries are skipped; an empty or absent array reads absent. */
const char *field_text_array(struct mapped *m, json_object *obj, const char *path, const char *key);

/* True when obj holds path as an explicit JSON null (absent is not null). */
bool field_null(json_object *obj, const char *path);

/* A speaker role in any spelling as agent|customer|system|unknown: agent, assistant, ai,
 * bot -> agent; user, customer, caller, human, contact, lead -> customer; system, tool,
 * function -> system. Never NULL. */
const char *field_role(const char *s);

/* "sha256:<hex>" of obj's compact JSON text with the given dotted paths left out
 * (skip is NULL-terminated, may be NULL): a de-duplication key for events without an
 * id, blind to per-attempt fields such as a retry counter. NULL when out of memory. */
const char *field_digest(struct mapped *m, json_object *obj, const char *const *skip);

/* Text of a direction in any spelling ("Outbound", "OUTBOUND", "telephony_inbound",
 * "telephonyOutbound", "in", ...) as "inbound"/"outbound", or NULL. */
const char *field_direction(const char *s);

#endif
