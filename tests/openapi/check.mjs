// check.mjs — the checks of tests/e2e/68-openapi.t on docs/openapi.yaml. Each prints
// TAP-like lines ("ok <name>", "not ok <name>", "# <diagnostic>") that the test counts;
// it exits 0 when it ran to its end, whatever it found.
//
//   node check.mjs static DOC ROOT PLATFORMS_JSON   the document alone: valid OpenAPI 3.1 (and broken
//                                                   copies not), against the platform table,
//                                                   docs/http.md and the fixtures
//   node check.mjs env DOC                          the settings of the "secured" phase's server
//                                                   (secrets, a path token, lookup tokens)
//   node check.mjs live DOC PLATFORMS_JSON PORT[,ADMIN_PORT] PHASE [PATH...]
//                                                   requests to a running server (and its admin
//                                                   listener); PATHs are paths the document does
//                                                   not have, each to be 404
//
// Phases of "live": open (no secrets, no lookup token), secured (the settings of "env", and
// the sources file CALLBRIDGE_SOURCES_FILE names, read here as well), spooled
// (PostgreSQL away, spool on), unavailable (PostgreSQL away, spool off), admin (an admin
// listener, PostgreSQL away for longer than CALLBRIDGE_READY_DB_DOWN_SECONDS, spool on).
// In each, every path and method of the document answers something other than 404 on
// each listener its servers' x-listener puts it on, and 404 on the others; every answer
// is checked against the document: its status is one the operation lists, its headers
// those the response requires, its body valid against the response's schema. The pre-call
// lookups' examples are sent in the open phase (401, no lookup token configured) and the
// secured one (their answers, with the lookup tokens of "env" and of the sources).
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import Ajv2020 from 'ajv/dist/2020.js';
import { Validator } from '@seriousme/openapi-schema-validator';
import { parse } from 'yaml';

const METHODS = ['get', 'head', 'post', 'put', 'patch', 'delete', 'options']; // those wire.c knows
const CONDITIONS = ['again', 'spooled', 'unavailable']; // response examples "<name>:<condition>"
// A server object's x-listener: the public port always, the public port while no admin
// listener is set, the admin listener (CALLBRIDGE_ADMIN_LISTEN).
const LISTENERS = ['public', 'public-unless-admin', 'admin'];

function ok(cond, name, ...diags) {
	console.log(`${cond ? 'ok' : 'not ok'} ${name}`);
	if (!cond) {
		for (const d of diags.flat()) if (d !== undefined && d !== '') console.log(`#   ${String(d).replace(/\n/g, '\n#   ')}`);
	}
	return cond;
}
const show = (v) => (typeof v === 'string' ? v : JSON.stringify(v));

// ---- the document ----------------------------------------------------------------------

function load(file) {
	return parse(fs.readFileSync(file, 'utf8'));
}

// A local reference's JSON pointer ("#/paths/~1webhooks~1%7Bplatform%7D") as a list of keys.
function pointerKeys(ref) {
	if (!ref.startsWith('#/')) throw new Error(`not a local reference: ${ref}`);
	return ref.slice(2).split('/').map((k) => decodeURIComponent(k).replace(/~1/g, '/').replace(/~0/g, '~'));
}
const toPointer = (keys) => '#/' + keys.map((k) => encodeURIComponent(String(k).replace(/~/g, '~0').replace(/\//g, '~1'))).join('/');

// resolve(doc, node, keys): follows $ref until a node without one; returns it with where it is.
function resolve(doc, node, keys) {
	for (let hops = 0; node && typeof node === 'object' && typeof node.$ref === 'string'; hops++) {
		if (hops > 20) throw new Error(`reference loop at ${toPointer(keys)}`);
		keys = pointerKeys(node.$ref);
		node = keys.reduce((n, k) => (n === undefined ? undefined : n[k]), doc);
		if (node === undefined) throw new Error(`unresolved reference at ${toPointer(keys)}`);
	}
	return { node, keys };
}

// Every operation: { template, method, op, keys, params: {name: {p, keys}}, listeners }.
// A path item that is a reference ("/webhooks/{platform}/") yields the operations it
// refers to under its own template. listeners: the x-listener of the operation's servers
// (its own, its path's, or the document's).
function operations(doc) {
	const out = [];
	for (const [template, raw] of Object.entries(doc.paths || {})) {
		const { node: item, keys: itemKeys } = resolve(doc, raw, ['paths', template]);
		for (const method of METHODS) {
			if (!item[method]) continue;
			const op = item[method];
			const params = {};
			const all = [...(item.parameters || []).map((p, i) => [p, [...itemKeys, 'parameters', i]]), ...(op.parameters || []).map((p, i) => [p, [...itemKeys, method, 'parameters', i]])];
			for (const [p, k] of all) {
				const r = resolve(doc, p, k);
				params[r.node.name] = { ...r.node, keys: r.keys };
			}
			const servers = op.servers || item.servers || doc.servers || [];
			out.push({ template, method, op, keys: [...itemKeys, method], params, listeners: new Set(servers.map((s) => s['x-listener'])) });
		}
	}
	return out;
}

// The operation whose path template matches a concrete path, or null. A path parameter
// must also be valid against its schema (an enum of slugs, a pattern), as the server
// routes only those.
function match(ajv, ops, method, concrete) {
	for (const o of ops) {
		if (o.method !== method) continue;
		const names = [];
		const re = new RegExp('^' + o.template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{([^}]+)\}/g, (_, n) => {
			names.push(n);
			return '([^/]+)';
		}) + '$');
		const m = re.exec(concrete);
		if (!m) continue;
		const fits = names.every((n, i) => {
			const p = o.params[n];
			return p && schemaCheck(ajv, [...p.keys, 'schema'], decodeURIComponent(m[i + 1])) === null;
		});
		if (fits) return o;
	}
	return null;
}
const pathKnown = (ajv, ops, concrete) => METHODS.some((m) => match(ajv, ops, m, concrete));

// Whether operation o is on a listener ('public' or 'admin'), an admin listener set or not.
function servedOn(o, listener, adminSet) {
	if (listener === 'admin') return adminSet && o.listeners.has('admin');
	return o.listeners.has('public') || (!adminSet && o.listeners.has('public-unless-admin'));
}

// ---- JSON Schema ----------------------------------------------------------------------

// One Ajv holds the whole document under the id "doc", so that a schema is compiled in
// place ("doc#/components/...") and its "$ref: #/components/schemas/X" resolve in it.
function makeAjv(doc) {
	const ajv = new Ajv2020({ strict: false, allErrors: true, validateSchema: false });
	ajv.addSchema(doc, 'doc');
	return ajv;
}
const compiled = new Map();
function validatorAt(ajv, keys) {
	const ref = 'doc' + toPointer(keys);
	if (!compiled.has(ref)) compiled.set(ref, ajv.compile({ $ref: ref }));
	return compiled.get(ref);
}
// schemaCheck(ajv, keys, value): null when the value is valid against the schema at keys
// in the document, else the errors.
function schemaCheck(ajv, keys, value) {
	const v = validatorAt(ajv, keys);
	return v(value) ? null : ajv.errorsText(v.errors, { separator: '; ' });
}

// ---- answers against the document -------------------------------------------------------

const lower = (h) => Object.fromEntries(Object.entries(h).map(([k, v]) => [k.toLowerCase(), v]));

// The problems of an answer to operation o: [] when the document describes it.
function problems(doc, ajv, o, ans) {
	const status = String(ans.status);
	const responses = o.op.responses || {};
	const key = [status, `${status[0]}XX`, 'default'].find((k) => k in responses);
	if (!key) return [`status ${status} is not one the document lists for ${o.method.toUpperCase()} ${o.template} (${Object.keys(responses).join(', ')})`];
	const { node: resp, keys } = resolve(doc, responses[key], [...o.keys, 'responses', key]);
	return problemsOf(doc, ajv, resp, keys, ans, o.method === 'head');
}

function problemsOf(doc, ajv, resp, keys, ans, head) {
	const out = [];
	const headers = lower(ans.headers);
	for (const [name, raw] of Object.entries(resp.headers || {})) {
		const { node: h, keys: hk } = resolve(doc, raw, [...keys, 'headers', name]);
		const got = headers[name.toLowerCase()];
		if (got === undefined) {
			if (h.required) out.push(`header ${name} is missing`);
			continue;
		}
		const type = h.schema && resolve(doc, h.schema, [...hk, 'schema']).node.type;
		const value = (type === 'integer' || type === 'number') && /^-?\d+(\.\d+)?$/.test(got) ? Number(got) : got;
		const e = schemaCheck(ajv, [...hk, 'schema'], value);
		if (e) out.push(`header ${name}: ${show(got)}: ${e}`);
	}
	if (head) return out; // a HEAD answer has no body to check
	const type = headers['content-type'];
	if (!resp.content) {
		if (ans.body.length) out.push(`the document gives this answer no body, and it has one: ${ans.body.slice(0, 200)}`);
		return out;
	}
	const media = Object.keys(resp.content).find((m) => m.toLowerCase() === String(type).toLowerCase());
	if (!media) return [...out, `Content-Type ${show(type)} is not one of ${Object.keys(resp.content).join(', ')}`];
	let body = ans.body;
	if (/json/.test(media)) {
		try {
			body = JSON.parse(ans.body);
		} catch (e) {
			return [...out, `the body is not JSON: ${ans.body.slice(0, 200)}`];
		}
	}
	const e = schemaCheck(ajv, [...keys, 'content', media, 'schema'], body);
	if (e) out.push(`body ${ans.body.slice(0, 300).trim()}: ${e}`);
	return out;
}

// ---- requests ----------------------------------------------------------------------------

function request(port, method, target, body, headers = {}) {
	return new Promise((resolvePromise) => {
		const h = { Connection: 'close', ...headers };
		if (body !== undefined) h['Content-Length'] = Buffer.byteLength(body);
		else if (['POST', 'PUT', 'PATCH'].includes(method)) h['Content-Length'] = 0;
		const req = http.request({ host: '127.0.0.1', port, method, path: target, headers: h, agent: false, timeout: 15000 }, (res) => {
			const chunks = [];
			res.on('data', (c) => chunks.push(c));
			res.on('end', () => resolvePromise({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
		});
		req.on('timeout', () => req.destroy(new Error('no answer in 15 s')));
		req.on('error', (e) => resolvePromise({ status: 0, headers: {}, body: '', error: e.message }));
		if (body !== undefined) req.write(body);
		req.end();
	});
}
const brief = (a) => (a.error ? `no answer: ${a.error}` : `${a.status} ${a.body.slice(0, 300).trim()}`);

// ---- what the document says of its examples --------------------------------------------

// The request examples of the webhook operations, each with the fixture it must equal.
// (Examples of other operations follow no naming convention: they are only checked
// against their schemas.)
function requestExamples(doc, ops) {
	const out = [];
	for (const o of ops) {
		if (!o.op.requestBody || !o.template.startsWith('/webhooks/')) continue;
		const { node: rb, keys } = resolve(doc, o.op.requestBody, [...o.keys, 'requestBody']);
		for (const [media, mt] of Object.entries(rb.content || {})) {
			for (const [name, raw] of Object.entries(mt.examples || {})) {
				const ex = resolve(doc, raw, [...keys, 'content', media, 'examples', name]).node;
				out.push({ o, name, media, value: ex.value, schemaKeys: [...keys, 'content', media, 'schema'], fixture: `tests/fixtures/${name}.json` });
			}
		}
	}
	// Each example once: the same request body may serve several operations.
	const seen = new Set();
	return out.filter((e) => !seen.has(e.name) && seen.add(e.name));
}

// Response examples of operation o: [{ name, status, value, keys }].
function responseExamples(doc, o) {
	const out = [];
	for (const [status, raw] of Object.entries(o.op.responses || {})) {
		const { node: resp, keys } = resolve(doc, raw, [...o.keys, 'responses', status]);
		for (const [media, mt] of Object.entries(resp.content || {})) {
			for (const [name, exRaw] of Object.entries(mt.examples || {})) {
				out.push({ name, status, media, value: resolve(doc, exRaw, []).node.value, resp, keys });
			}
		}
	}
	return out;
}

// The path to post example e to: its operation's template with {platform} its slug and
// every other path parameter its example.
function examplePath(e) {
	const slug = e.name.split('/')[0];
	return e.o.template.replace(/\{([^}]+)\}/g, (_, n) => (n === 'platform' ? slug : encodeURIComponent(e.o.params[n]?.example ?? '')));
}

// Every concrete path of a template: each path parameter its example (or each of its
// examples), or each value of its enum. A parameter with none cannot be probed, and is
// reported.
function concretePaths(doc, o) {
	let paths = [o.template];
	for (const [, n] of o.template.matchAll(/\{([^}]+)\}/g)) {
		const p = o.params[n];
		const schema = p?.schema && resolve(doc, p.schema, []).node;
		const values = p?.example !== undefined ? [p.example] : p?.examples ? Object.values(p.examples).map((e) => resolve(doc, e, []).node.value) : schema?.enum;
		if (!values) return { error: `path parameter {${n}} of ${o.template} has no example and no enum` };
		paths = paths.flatMap((t) => values.map((v) => t.replace(`{${n}}`, encodeURIComponent(v))));
	}
	return { paths };
}

// ---- the pre-call lookups ----------------------------------------------------------------

// The lookup routes: POST /precall/{platform} (and its other paths), GET|HEAD /v1/callers/{phone}.
const isLookup = (template) => /^\/(precall|v1\/callers)\//.test(template);
// Response examples of the lookup operations that answer no request example in particular.
const LOOKUP_GENERIC = { token_missing: '401', token_invalid: '401', unconfigured: '401', invalid_json: '400' };

// The request examples of POST /precall/{platform}: [{ o, name, slug, media, value, schemaKeys }],
// each once; "<slug>/<name>" is POSTed to /precall/<slug>.
function lookupExamples(doc, ops) {
	const out = [];
	const seen = new Set();
	for (const o of ops) {
		if (!o.op.requestBody || !o.template.startsWith('/precall/')) continue;
		const { node: rb, keys } = resolve(doc, o.op.requestBody, [...o.keys, 'requestBody']);
		for (const [media, mt] of Object.entries(rb.content || {})) {
			for (const [name, raw] of Object.entries(mt.examples || {})) {
				if (seen.has(name)) continue;
				seen.add(name);
				out.push({ o, name, slug: name.split('/')[0], media, value: resolve(doc, raw, []).node.value, schemaKeys: [...keys, 'content', media, 'schema'] });
			}
		}
	}
	return out;
}

// The examples of GET /v1/callers/{phone}'s phone: [{ o, name, value }].
function phoneExamples(doc, ops) {
	const o = ops.find((x) => x.template === '/v1/callers/{phone}' && x.method === 'get');
	return Object.entries(o?.params.phone?.examples || {}).map(([name, raw]) => ({ o, name, value: resolve(doc, raw, []).node.value }));
}

// The lookup token of each lookup platform, in the secured phase.
function lookupTokens(doc) {
	const slugs = doc.components?.schemas?.LookupPlatform?.enum || [];
	return Object.fromEntries(slugs.map((s) => [s, `precall-token-of-${s}-for-the-openapi-test`]));
}

// The keys of the branch (of the oneOf or anyOf of the schema at keys) whose x-platform is
// slug, or null.
function branchOf(doc, keys, slug) {
	const { node, keys: at } = resolve(doc, keys.reduce((n, k) => (n === undefined ? undefined : n[k]), doc), keys);
	for (const comb of ['oneOf', 'anyOf']) {
		for (const [i, raw] of (node?.[comb] || []).entries()) {
			const b = resolve(doc, raw, [...at, comb, i]);
			if (b.node['x-platform'] === slug) return b.keys;
		}
	}
	return null;
}

const withoutId = (v) => {
	if (!v || typeof v !== 'object') return v;
	const { event_id, ...rest } = v;
	return rest;
};
const equal = (a, b) => JSON.stringify(sortKeys(a)) === JSON.stringify(sortKeys(b));
function sortKeys(v) {
	if (Array.isArray(v)) return v.map(sortKeys);
	if (v && typeof v === 'object') return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortKeys(v[k])]));
	return v;
}

// ---- static ------------------------------------------------------------------------------

async function checkStatic(docFile, root, platformsFile) {
	const validator = new Validator();
	const res = await validator.validate(docFile);
	ok(res.valid && validator.version === '3.1', `${path.basename(docFile)} is a valid OpenAPI 3.1 document`, show(res.errors)?.slice(0, 2000));

	// The validator can fail: copies broken in three ways are refused.
	const doc = load(docFile);
	const breakages = {
		'a response without its description': (d) => delete d.paths['/healthz'].get.responses['200'].description,
		'a reference to a response that does not exist': (d) => (d.paths['/readyz'].get.responses['503'] = { $ref: '#/components/responses/NoSuchResponse' }),
		'a parameter in the body': (d) => (d.components.parameters.Platform.in = 'body'),
	};
	for (const [what, breakIt] of Object.entries(breakages)) {
		const copy = structuredClone(doc);
		let r;
		try {
			breakIt(copy);
			r = await new Validator().validate(copy);
		} catch (e) {
			r = { valid: true, errors: `could not break the copy: ${e.message}` };
		}
		ok(!r.valid, `a copy with ${what} is refused`, show(r.errors));
	}

	const version = fs.readFileSync(path.join(root, 'VERSION'), 'utf8').trim();
	ok(doc.info?.version === version, `info.version is VERSION (${version})`, `got ${doc.info?.version}`);

	const platforms = JSON.parse(fs.readFileSync(platformsFile, 'utf8'));
	const slugs = platforms.map((p) => p.slug);
	const enumSlugs = doc.components?.schemas?.Platform?.enum || [];
	ok(equal(enumSlugs, slugs), 'the Platform enum is the platform table (callbridge platforms), in its order', `document: ${enumSlugs.join(' ')}`, `table:    ${slugs.join(' ')}`);

	// Error codes: the same as http.md's error table, each under the same status.
	const httpmd = fs.readFileSync(path.join(root, 'docs/http.md'), 'utf8');
	const mdStatus = {};
	for (const line of httpmd.split('\n')) {
		const cells = line.split('|').map((c) => c.trim());
		if (!/^[45]\d\d$/.test(cells[1] || '')) continue;
		for (const [, code] of (cells[2] || '').matchAll(/`([a-z0-9_]+)`/g)) mdStatus[code] = cells[1];
	}
	const all = doc.components?.schemas?.ErrorCode?.enum || [];
	const mdCodes = Object.keys(mdStatus);
	ok(mdCodes.length > 10 && equal([...all].sort(), [...mdCodes].sort()), "ErrorCode's enum is the codes of docs/http.md's error table",
		`only in the document: ${all.filter((c) => !mdCodes.includes(c)).join(' ') || '-'}`, `only in http.md:      ${mdCodes.filter((c) => !all.includes(c)).join(' ') || '-'}`);
	const ajv = makeAjv(doc);
	const ops = operations(doc);
	const docStatus = {}; // code -> statuses under which the document lists it
	const note = (code, status) => (docStatus[code] ||= new Set()).add(status);
	const codesOf = (schema) => {
		const out = [];
		const walk = (s) => {
			if (!s || typeof s !== 'object') return;
			if (s.$ref) return walk(resolve(doc, s, []).node);
			if (s.properties?.error?.enum) out.push(...s.properties.error.enum);
			if (s.properties?.error?.const) out.push(s.properties.error.const);
			for (const sub of s.allOf || []) walk(sub);
		};
		walk(schema);
		return out;
	};
	const responseCodes = (resp) => Object.values(resp.content || {}).flatMap((mt) => codesOf(mt.schema));
	for (const o of ops) {
		for (const [status, raw] of Object.entries(o.op.responses || {})) {
			for (const c of responseCodes(resolve(doc, raw, []).node)) note(c, status);
		}
	}
	// Answers no operation lists: 405 for a method a path does not take, 404 for a path
	// the document does not have.
	for (const [name, status] of [['MethodNotAllowed', '405'], ['NotFound', '404']]) {
		for (const c of responseCodes(doc.components.responses[name])) note(c, status);
	}
	for (const code of mdCodes) {
		const st = [...(docStatus[code] || [])];
		ok(st.length > 0 && st.every((s) => s === mdStatus[code]), `error ${code}: answered ${mdStatus[code]}, as http.md says`, `the document lists it under: ${st.join(', ') || 'nothing'}`);
	}
	const stray = Object.keys(docStatus).filter((c) => !all.includes(c));
	ok(stray.length === 0, 'every error code a response names is in ErrorCode', stray.join(' '));

	// Servers: each says which listener it is; each operation is on one at least, and
	// /status (http.md: "only on the admin listener") on the admin listener alone.
	const servers = [...(doc.servers || []), ...Object.values(doc.paths).flatMap((item) => [...(item.servers || []), ...METHODS.flatMap((m) => item[m]?.servers || [])])];
	const badServers = servers.filter((s) => !LISTENERS.includes(s['x-listener']));
	ok(servers.length > 0 && badServers.length === 0, `every server object's x-listener is one of ${LISTENERS.join(', ')}`, badServers.map((s) => `${s.url}: ${s['x-listener']}`));
	for (const o of ops) {
		ok(servedOn(o, 'public', false) || servedOn(o, 'admin', true), `${o.method.toUpperCase()} ${o.template} is on a listener`, `x-listener: ${[...o.listeners].join(', ')}`);
	}
	const adminOnly = [...httpmd.matchAll(/^\| `([A-Z]+) (\/[^`]*)` \| only on the admin listener/gm)];
	ok(adminOnly.length > 0, "docs/http.md's endpoints table names an endpoint only on the admin listener");
	for (const [, method, p] of adminOnly) {
		const o = ops.find((x) => x.template === p && x.method === method.toLowerCase());
		ok(o && !servedOn(o, 'public', false) && !servedOn(o, 'public', true) && servedOn(o, 'admin', true), `http.md's ${method} ${p}: on the admin listener only`, o && `x-listener: ${[...o.listeners].join(', ')}`);
	}

	// http.md's endpoints are all here ("POST /webhooks/<slug>" is /webhooks/{platform};
	// "/a/<x>[/<y>]" is /a/{x} and /a/{x}/{y}). Templates of the same shape are the same
	// path whatever their parameters' names, as OpenAPI has it: "/webhooks/<slug>/<token>"
	// is described by /webhooks/{platform}/{segment}.
	const endpoints = [...httpmd.matchAll(/^\| `([A-Z]+) (\/[^`]*)` \|/gm)];
	ok(endpoints.length > 0, "docs/http.md's endpoints table is found");
	const shape = (t) => t.replace(/\{[^}]+\}/g, '{}');
	const optionals = (p) => (/\[[^\]]*\]/.test(p) ? [p.replace(/\[[^\]]*\]/, ''), p.replace(/\[([^\]]*)\]/, '$1')].flatMap(optionals) : [p]);
	for (const [, method, p] of endpoints) {
		const templates = optionals(p).map((v) => shape(v.replace(/<[^>]+>/g, '{}')));
		const missing = templates.filter((t) => !ops.some((o) => shape(o.template) === t && o.method === method.toLowerCase()));
		ok(missing.length === 0, `http.md's ${method} ${p} is described`, missing.map((t) => `no path of the shape ${t}`));
	}

	// Request examples: each is the fixture of its name, byte for byte as JSON, and valid
	// against the request's schema; every platform has one.
	const examples = requestExamples(doc, ops);
	for (const e of examples) {
		const [slug, rest] = e.name.split('/');
		const file = path.join(root, e.fixture);
		let want;
		try {
			want = JSON.parse(fs.readFileSync(file, 'utf8'));
		} catch (err) {
			want = { unreadable: err.message };
		}
		ok(slugs.includes(slug) && rest && !fs.existsSync(file.replace(/\.json$/, '.headers')), `request example ${e.name} names a platform's fixture that needs no headers`);
		ok(equal(e.value, want), `request example ${e.name} is ${e.fixture}`, `document: ${show(e.value).slice(0, 300)}`, `fixture:  ${show(want).slice(0, 300)}`);
		const err = schemaCheck(ajv, e.schemaKeys, e.value);
		ok(!err, `request example ${e.name} is valid against the request's schema`, err);
	}
	for (const slug of slugs) ok(examples.some((e) => e.name.startsWith(`${slug}/`)), `platform ${slug} has a request example`);

	// Response examples are valid against their response's schema; a webhook operation's
	// are named "<request example>" or "<request example>:<condition>". (Operations may
	// share a response: each example is checked once.)
	const names = examples.map((e) => e.name);
	const seen = new Set();
	for (const o of ops) {
		for (const r of responseExamples(doc, o)) {
			const id = `${toPointer(r.keys)} ${r.name}`;
			if (seen.has(id)) continue;
			seen.add(id);
			if (o.template.startsWith('/webhooks/')) {
				const [base, cond] = r.name.split(':');
				ok(names.includes(base) && (cond === undefined || CONDITIONS.includes(cond)), `response example ${r.name} (${r.status}) names a request example and a known condition`);
			}
			const err = schemaCheck(ajv, [...r.keys, 'content', r.media, 'schema'], r.value);
			ok(!err, `response example ${r.name} (${r.status}) is valid against its schema`, err);
		}
		if (!o.op.requestBody || o.template.startsWith('/webhooks/')) continue;
		const { node: rb, keys } = resolve(doc, o.op.requestBody, [...o.keys, 'requestBody']);
		for (const [media, mt] of Object.entries(rb.content || {})) {
			for (const [name, raw] of Object.entries(mt.examples || {})) {
				if (seen.has(`${toPointer(keys)} ${media} ${name}`)) continue;
				seen.add(`${toPointer(keys)} ${media} ${name}`);
				const err = schemaCheck(ajv, [...keys, 'content', media, 'schema'], resolve(doc, raw, []).node.value);
				ok(!err, `request example ${name} of ${o.method.toUpperCase()} ${o.template} is valid against its schema`, err);
			}
		}
	}
	// A response's single example (GET /healthz's) is valid too.
	for (const o of ops) {
		for (const [status, raw] of Object.entries(o.op.responses || {})) {
			const { node: resp, keys } = resolve(doc, raw, [...o.keys, 'responses', status]);
			for (const [media, mt] of Object.entries(resp.content || {})) {
				if (mt.example === undefined || seen.has(toPointer(keys) + media)) continue;
				seen.add(toPointer(keys) + media);
				const err = schemaCheck(ajv, [...keys, 'content', media, 'schema'], mt.example);
				ok(!err, `the example of ${o.method.toUpperCase()} ${o.template}'s ${status} is valid against its schema`, err);
			}
		}
	}
	for (const e of examples) {
		const first = responseExamples(doc, e.o).filter((r) => r.name === e.name);
		ok(first.length === 1, `request example ${e.name} has one answer in the responses`, `found ${first.length}`);
	}

	// Pre-call lookups: the platforms with a lookup shape are docs/precall.md's; each request
	// example names one of them and has one answer of its name; it is that platform's
	// request (its branch of the request's schema) when the answer is a 200 and not when it
	// is a 400, and a 200 answer is that platform's answer. Each phone example has one 200
	// answer; every other response example of a lookup is a generic one, under its status.
	const precallmd = fs.readFileSync(path.join(root, 'docs/precall.md'), 'utf8');
	const shapes = (precallmd.split(/^## The shapes$/m)[1] || '').split(/^## /m)[0];
	const mdLookup = [...shapes.matchAll(/^\| `([a-z0-9]+)` \|/gm)].map((m) => m[1]);
	const lookupSlugs = doc.components?.schemas?.LookupPlatform?.enum || [];
	ok(mdLookup.length > 0 && equal(lookupSlugs, mdLookup), "the LookupPlatform enum is docs/precall.md's shapes", `document: ${lookupSlugs.join(' ')}`, `precall.md: ${mdLookup.join(' ')}`);
	const lex = lookupExamples(doc, ops);
	const lnames = new Set(lex.map((e) => e.name));
	for (const e of lex) {
		const answers = responseExamples(doc, e.o).filter((r) => r.name === e.name);
		ok(lookupSlugs.includes(e.slug) && e.name.includes('/') && answers.length === 1, `lookup request example ${e.name} names a lookup platform and has one answer`, `found ${answers.length}`);
		const bk = branchOf(doc, e.schemaKeys, e.slug);
		if (!ok(bk, `the lookup request's schema has a branch of ${e.slug}`)) continue;
		const err = schemaCheck(ajv, bk, e.value);
		const a = answers[0];
		if (a?.status === '200') {
			ok(!err, `lookup request example ${e.name} is ${e.slug}'s request`, err);
			const ak = branchOf(doc, [...a.keys, 'content', a.media, 'schema'], e.slug);
			const aerr = ak ? schemaCheck(ajv, ak, a.value) : 'no branch of the platform in the answer\'s schema';
			ok(!aerr, `lookup response example ${e.name} is ${e.slug}'s answer`, aerr);
		} else {
			ok(a?.status === '400' && err, `lookup request example ${e.name}, answered ${a?.status}, is not ${e.slug}'s request`);
		}
	}
	for (const slug of lookupSlugs) {
		ok(lex.some((e) => e.slug === slug && responseExamples(doc, e.o).some((r) => r.name === e.name && r.status === '200')), `lookup platform ${slug} has a request example answered 200`);
	}
	const pex = phoneExamples(doc, ops);
	ok(pex.length > 0, 'GET /v1/callers/{phone} has phone examples');
	for (const e of pex) {
		ok(responseExamples(doc, e.o).filter((r) => r.name === e.name && r.status === '200').length === 1, `phone example ${e.name} has one 200 answer`);
	}
	const pnames = new Set(pex.map((e) => e.name));
	const seenLookup = new Set();
	for (const o of ops.filter((x) => isLookup(x.template))) {
		for (const r of responseExamples(doc, o)) {
			const id = `${toPointer(r.keys)} ${r.name}`;
			if (seenLookup.has(id)) continue;
			seenLookup.add(id);
			const own = o.template.startsWith('/precall/') ? lnames : pnames;
			ok(own.has(r.name) || LOOKUP_GENERIC[r.name] === r.status, `lookup response example ${r.name} (${r.status}) names a request example of ${o.template} or is a generic one`);
		}
	}
	for (const [name, status] of Object.entries(LOOKUP_GENERIC)) {
		ok(ops.some((o) => o.template.startsWith('/precall/') && responseExamples(doc, o).some((r) => r.name === name && r.status === status)), `the lookups have the generic ${status} example ${name}`);
	}
	// Their security: a bearer token or ?token=, never nothing.
	const schemesAll = doc.components?.securitySchemes || {};
	for (const o of ops.filter((x) => isLookup(x.template))) {
		const reqs = o.op.security || [];
		const kinds = reqs.map((req) => Object.keys(req).map((n) => schemesAll[n]));
		ok(reqs.length > 0 && kinds.every((k) => k.length === 1 && k[0]) &&
			kinds.some(([s]) => s.type === 'http' && s.scheme === 'bearer') && kinds.some(([s]) => s.type === 'apiKey' && s.in === 'query' && s.name === 'token'),
			`${o.method.toUpperCase()} ${o.template}: a bearer token or ?token=, and no anonymous access`);
	}

	// Security: each platform's default scheme is described, under the header the platform
	// table names, and the webhook operations offer it.
	const schemes = doc.components?.securitySchemes || {};
	const webhookOps = ops.filter((o, i) => o.template.startsWith('/webhooks/') && ops.findIndex((x) => x.op === o.op) === i);
	for (const p of platforms) {
		const mine = Object.entries(schemes).filter(([, s]) => (s['x-default-for'] || []).includes(p.slug));
		ok(mine.length > 0 && mine.every(([, s]) => s['x-scheme'] === p.scheme), `platform ${p.slug}: security schemes of its default scheme ${p.scheme}`,
			mine.map(([n, s]) => `${n}: ${s['x-scheme']}`));
		if (p.signature_header) {
			ok(mine.some(([, s]) => s.in === 'header' && s.name.toLowerCase() === p.signature_header.toLowerCase()), `platform ${p.slug}: signed in ${p.signature_header}`,
				mine.map(([n, s]) => `${n}: ${s.name}`));
		}
		const names = new Set(mine.map(([n]) => n));
		for (const o of webhookOps) {
			ok((o.op.security || []).some((req) => Object.keys(req).length && Object.keys(req).every((n) => names.has(n))),
				`${o.template}: a security requirement of ${p.slug}'s scheme alone`);
		}
	}
}

// ---- live ----------------------------------------------------------------------------------

// Secrets of the "secured" phase. The platform of /webhooks/{platform}/{segment}'s example
// gets the path token of its segment example path_token and no secret (as Allo v1, which
// signs nothing); every other one a secret of its default scheme.
function securedSettings(doc, ops) {
	const tokenOp = segmentOp(ops);
	const tokenSlug = tokenOp?.params.platform?.example;
	const token = tokenOp?.params.segment?.examples?.path_token?.value;
	const slugs = doc.components.schemas.Platform.enum;
	const secrets = {};
	for (const s of slugs) if (s !== tokenSlug) secrets[s] = `whsec_${Buffer.from(`secret of ${s} for the openapi test`).toString('base64')}`;
	return { tokenSlug, token, secrets };
}

// POST /webhooks/{platform}/{segment}: a source's route or the default source's path token.
const segmentOp = (ops) => ops.find((o) => o.method === 'post' && o.template === '/webhooks/{platform}/{segment}');
// Whether operation o's route needs a source or a path token configured (the secured phase's).
const needsSources = (o) => Boolean(o.params.token || o.params.segment || o.params.source);

// The sources file the secured phase's server reads (CALLBRIDGE_SOURCES_FILE): the INI of
// sources.md, read as far as this test writes it; { "<slug>.<source>": { key: value } }.
function readSources(file) {
	const out = {};
	let cur = null;
	for (const raw of fs.readFileSync(file, 'utf8').split('\n')) {
		const line = raw.replace(/(^|\s)[;#].*$/, '').trim();
		if (!line) continue;
		const sec = /^\[([a-z0-9]+)\.([a-z0-9_-]+)\]$/.exec(line);
		if (sec) {
			cur = out[`${sec[1]}.${sec[2]}`] = { slug: sec[1], name: sec[2] };
			continue;
		}
		const kv = /^([a-z_]+)\s*=\s*(.*)$/.exec(line);
		if (!kv || !cur) throw new Error(`${file}: cannot read: ${raw}`);
		cur[kv[1]] = kv[2];
	}
	return out;
}

function sign(schemes, req, secret, body) {
	const headers = {};
	const now = String(Math.floor(Date.now() / 1000));
	const names = Object.keys(req).map((n) => schemes[n]);
	const role = (re) => names.find((s) => re.test(s.name))?.name;
	const kind = names[0]['x-scheme'];
	const hmac = (key, data, enc) => crypto.createHmac('sha256', key).update(data).digest(enc);
	if (kind === 'simz') {
		headers[role(/timestamp$/i)] = now;
		headers[role(/signature$/i)] = 'sha256=' + hmac(secret, `${now}.${body}`, 'hex');
	} else if (kind === 'standard') {
		const id = `msg_${crypto.randomBytes(6).toString('hex')}`;
		headers[role(/id$/i)] = id;
		headers[role(/timestamp$/i)] = now;
		headers[role(/signature$/i)] = 'v1,' + hmac(Buffer.from(secret.replace(/^whsec_/, ''), 'base64'), `${id}.${now}.${body}`, 'base64');
	} else if (kind === 'hmac-hex') {
		headers[names[0].name] = hmac(secret, body, 'hex');
	} else {
		return null;
	}
	return headers;
}

async function checkLive(docFile, platformsFile, ports, phase, probes) {
	const doc = load(docFile);
	const ajv = makeAjv(doc);
	const ops = operations(doc);
	const platforms = JSON.parse(fs.readFileSync(platformsFile, 'utf8'));
	const root = path.resolve(path.dirname(docFile), '..');
	const examples = requestExamples(doc, ops);
	const fixture = (e) => fs.readFileSync(path.join(root, e.fixture), 'utf8');
	const answerOf = (o, name) => responseExamples(doc, o).find((r) => r.name === name);
	const tag = `[${phase}]`;
	const adminSet = ports.admin !== undefined;
	const listeners = adminSet ? ['public', 'admin'] : ['public'];
	const where = { public: adminSet ? ' on the public port' : '', admin: ' on the admin listener' };
	const ltok = phase === 'secured' ? lookupTokens(doc) : null; // null: no lookup token configured
	// The sources file of the secured phase ({} in the others, which have none).
	const sourcesFile = phase === 'secured' ? process.env.CALLBRIDGE_SOURCES_FILE : undefined;
	const sources = sourcesFile ? readSources(sourcesFile) : {};
	if (phase === 'secured') ok(Object.keys(sources).length > 0, `${tag} the server's sources file (CALLBRIDGE_SOURCES_FILE) has sources`, `file: ${sourcesFile}`);
	const sourceOf = (slug, name) => sources[`${slug}.${name}`];
	const lex = lookupExamples(doc, ops);
	const pex = phoneExamples(doc, ops);

	// check(o, target, body, headers, name, want): one request to operation o, one test;
	// on the public port unless want.listener says otherwise.
	async function check(o, target, body, headers, name, want = {}) {
		const ans = await request(ports[want.listener || 'public'], o.method.toUpperCase(), target, body, headers);
		const found = ans.error ? [`no answer: ${ans.error}`] : problems(doc, ajv, o, ans);
		if (want.status !== undefined && String(ans.status) !== String(want.status)) found.unshift(`status ${ans.status}, the document says ${want.status}`);
		if (want.notFound === false && ans.status === 404) found.unshift('404: the document describes it, the server does not serve it');
		if (want.error !== undefined) {
			const got = ans.body && /json/.test(ans.headers['content-type'] || '') ? safeJSON(ans.body)?.error : undefined;
			if (got !== want.error) found.unshift(`error ${show(got)}, want ${want.error}`);
		}
		if (want.example) {
			const got = safeJSON(ans.body);
			if (!equal(withoutId(got), withoutId(want.example.value))) found.push(`answer:  ${ans.body.trim()}`, `example: ${JSON.stringify(want.example.value)}`);
		}
		ok(found.length === 0, `${tag} ${name}`, found, found.length ? `answer: ${brief(ans)}` : '');
		return ans;
	}

	// Examples first, before anything else posts their fixtures.
	const firstIds = {};
	const conditionOf = { open: [undefined, 'again'], spooled: ['spooled'], unavailable: ['unavailable'], secured: [], admin: [] }[phase];
	for (const cond of conditionOf) {
		for (const e of examples) {
			const name = cond ? `${e.name}:${cond}` : e.name;
			const r = answerOf(e.o, name);
			if (!r && cond) {
				if (cond !== 'again') continue;
				await check(e.o, examplePath(e), fixture(e), { 'Content-Type': e.media }, `${e.name} posted again: an answer the document describes`);
				continue;
			}
			if (!r) {
				ok(false, `${tag} ${name}: the document has its answer`);
				continue;
			}
			const ans = await check(e.o, examplePath(e), fixture(e), { 'Content-Type': e.media }, `${name}: ${r.status}, the response example's body`, { status: r.status, example: r });
			const id = safeJSON(ans.body)?.event_id;
			if (cond === undefined) firstIds[e.name] = id;
			else if (cond === 'again' && firstIds[e.name] !== undefined) ok(id === firstIds[e.name], `${tag} ${name}: the event_id of the first delivery`, `${id} vs ${firstIds[e.name]}`);
		}
	}
	if (phase === 'spooled' || phase === 'unavailable') {
		ok(examples.some((e) => answerOf(e.o, `${e.name}:${phase}`)), `${tag} the document has an example answer while ${phase}`);
	}

	// Pre-call lookups, after the webhook examples are stored: with the lookup tokens
	// (secured), each request example POSTed with its platform's token, in the header and
	// in ?token=, and each phone example looked up, get the answer of their name (a 200 in
	// the platform's own shape); without a token, with another's and cut short by a byte,
	// the generic answers. Without any lookup token configured (open), each is 401
	// unconfigured.
	if (phase === 'open' || phase === 'secured') {
		const generic = (name) => ops.filter((o) => isLookup(o.template)).map((o) => answerOf(o, name)).find(Boolean);
		const bearer = (t) => ({ Authorization: `Bearer ${t}` });
		const unconfigured = generic('unconfigured');
		const missing = generic('token_missing');
		const invalid = generic('token_invalid');
		const cut = generic('invalid_json');
		const want = (r) => ({ status: r?.status, example: r });
		ok(lex.length > 0 && pex.length > 0, `${tag} the document has lookup examples to send`);
		for (const e of lex) {
			const target = `/precall/${e.slug}`;
			const body = JSON.stringify(e.value);
			const json = { 'Content-Type': e.media };
			if (!ltok) {
				await check(e.o, target, body, { ...json, ...bearer('a-token-nothing-configures') }, `lookup ${e.name}, no lookup token configured: 401, the example unconfigured`, want(unconfigured));
				await check(e.o, target, body, json, `lookup ${e.name} without a token, no lookup token configured: 401, the example token_missing`, want(missing));
				continue;
			}
			const r = answerOf(e.o, e.name);
			if (!ok(r, `${tag} lookup ${e.name}: the document has its answer`)) continue;
			const ans = await check(e.o, target, body, { ...json, ...bearer(ltok[e.slug]) }, `lookup ${e.name}: ${r.status}, the response example's body`, want(r));
			if (ans.status === 200) {
				const bk = branchOf(doc, [...r.keys, 'content', r.media, 'schema'], e.slug);
				const err = bk ? schemaCheck(ajv, bk, safeJSON(ans.body)) : 'no branch of the platform in the answer\'s schema';
				ok(!err, `${tag} lookup ${e.name}: ${e.slug}'s own answer`, err);
			}
			await check(e.o, `${target}?token=${encodeURIComponent(ltok[e.slug])}`, body, json, `lookup ${e.name}, the token in ?token=: ${r.status}, the same answer`, want(r));
			await check(e.o, target, body, json, `lookup ${e.name} without a token: 401, the example token_missing`, want(missing));
			const another = Object.entries(ltok).find(([s]) => s !== e.slug)?.[1] || 'not-a-lookup-token';
			await check(e.o, target, body, { ...json, ...bearer(another) }, `lookup ${e.name} with another platform's token: 401, the example token_invalid`, want(invalid));
			await check(e.o, target, body.slice(0, -1), { ...json, ...bearer(ltok[e.slug]) }, `lookup ${e.name} cut short by a byte: 400, the example invalid_json`, want(cut));
		}
		const head = ops.find((o) => o.template === '/v1/callers/{phone}' && o.method === 'head');
		for (const e of pex) {
			const target = `/v1/callers/${encodeURIComponent(e.value)}`;
			if (!ltok) {
				await check(e.o, target, undefined, bearer('a-token-nothing-configures'), `GET ${target}, no lookup token configured: 401, the example unconfigured`, want(unconfigured));
				if (head) await check(head, target, undefined, bearer('a-token-nothing-configures'), `HEAD ${target}, no lookup token configured: 401`, { status: unconfigured?.status });
				continue;
			}
			const r = answerOf(e.o, e.name);
			if (!ok(r, `${tag} GET /v1/callers, phone example ${e.name}: the document has its answer`)) continue;
			for (const t of [...Object.values(ltok), ...Object.values(sources).map((x) => x.token).filter(Boolean)]) {
				const ans = await check(e.o, target, undefined, bearer(t), `GET ${target} (${e.name}) with the token ${t}: ${r.status}, the response example's body`, want(r));
				if (head) {
					const h = await check(head, target, undefined, bearer(t), `HEAD ${target} (${e.name}): ${r.status}, no body`, { status: r.status });
					ok(h.body === '' && Number(h.headers['content-length']) === Buffer.byteLength(ans.body), `${tag} HEAD ${target}: the GET's Content-Length, no body`, `Content-Length ${h.headers['content-length']}, GET's body ${Buffer.byteLength(ans.body)} bytes, HEAD's ${h.body.length}`);
				}
			}
			await check(e.o, `${target}?token=${encodeURIComponent(Object.values(ltok)[0])}`, undefined, {}, `GET ${target}, the token in ?token=: ${r.status}, the same answer`, want(r));
			await check(e.o, target, undefined, {}, `GET ${target} without a token: 401, the example token_missing`, want(missing));
			await check(e.o, target, undefined, bearer('not-a-lookup-token'), `GET ${target} with a token nothing configures: 401, the example token_invalid`, want(invalid));
		}
		// The lookups of the sources of the sources file with a token (secured): each
		// request example of the source's platform POSTed to /precall/<slug>/<source> with
		// the source's token gets the answer of its name; the platform's token there, and
		// the source's on /precall/<slug>, are another's.
		const lslugs = doc.components.schemas.LookupPlatform.enum;
		const sourceLookup = ops.find((o) => o.template === '/precall/{platform}/{source}' && o.method === 'post');
		const notFoundAt = [];
		for (const src of Object.values(sources).filter((x) => x.token && lslugs.includes(x.slug))) {
			const target = `/precall/${src.slug}/${src.name}`;
			const mine = lex.filter((e) => e.slug === src.slug);
			ok(sourceLookup && mine.length > 0, `${tag} ${target}: the document has the route and lookup examples of ${src.slug}`);
			for (const e of sourceLookup ? mine : []) {
				const r = answerOf(e.o, e.name);
				const body = JSON.stringify(e.value);
				const json = { 'Content-Type': e.media };
				await check(sourceLookup, target, body, { ...json, ...bearer(src.token) }, `lookup ${e.name} of the source ${src.name}, with its token: ${r?.status}, the response example's body`, want(r));
				await check(sourceLookup, `${target}?token=${encodeURIComponent(src.token)}`, body, json, `lookup ${e.name} of the source ${src.name}, its token in ?token=: ${r?.status}, the same answer`, want(r));
				await check(sourceLookup, target, body, { ...json, ...bearer(ltok[src.slug]) }, `lookup ${e.name} of the source ${src.name} with ${src.slug}'s own token: 401, the example token_invalid`, want(invalid));
				await check(e.o, `/precall/${src.slug}`, body, { ...json, ...bearer(src.token) }, `lookup ${e.name} on /precall/${src.slug} with the token of the source ${src.name}: 401, the example token_invalid`, want(invalid));
			}
			// The same name under a lookup platform that has no such source.
			const other = lslugs.find((s) => !sourceOf(s, src.name));
			if (other) notFoundAt.push([`/precall/${other}/${src.name}`, 'unknown_source'], [`${target}/x`, 'unknown_source']);
		}
		// Under /precall/, a platform without a lookup shape and a source that is not
		// configured.
		const shapeless = doc.components.schemas.Platform.enum.find((s) => !lslugs.includes(s));
		for (const [target, code] of [[`/precall/${shapeless}`, 'unknown_platform'], [`/precall/${lslugs[0]}/not-a-source`, 'unknown_source'], [`/precall/${lslugs[0]}/default/x`, 'unknown_source'], ...notFoundAt]) {
			const found = await notFound('public', 'POST', target, code);
			ok(found.length === 0, `${tag} POST ${target}: 404 ${code}`, found);
		}
	}

	// notFound(listener, method, target, code): the problems of an answer that must be the
	// document's NotFound (with the error code, when one is given).
	async function notFound(listener, method, target, code) {
		const ans = await request(ports[listener], method, target, ['POST', 'PUT', 'PATCH'].includes(method) ? '{}' : undefined);
		if (ans.status !== 404) return [`${method}: ${brief(ans)}`];
		const found = problemsOf(doc, ajv, doc.components.responses.NotFound, ['components', 'responses', 'NotFound'], ans, method === 'HEAD');
		const error = safeJSON(ans.body)?.error;
		if (code && method !== 'HEAD' && error !== code) found.push(`error ${show(error)}, want ${code}`);
		return found.map((f) => `${method}: ${f}`);
	}

	// Route coverage: on each listener, every path and method of the document it is on,
	// each concrete path of it, answers, and not 404; every other one is 404 not_found.
	// A POST carries its operation's first example. A route of a source or with a path
	// token is served only where its examples are configured: in the secured phase.
	for (const listener of listeners) {
		for (const o of ops) {
			const on = servedOn(o, listener, adminSet);
			const served = on && (!needsSources(o) || phase === 'secured');
			const { paths, error } = concretePaths(doc, o);
			if (error) {
				ok(false, `${tag} ${error}`);
				continue;
			}
			const ex = examples.find((e) => e.o === o) || examples.find((e) => o.op.requestBody && equal(e.o.op.requestBody, o.op.requestBody));
			const method = o.method.toUpperCase();
			for (const p of paths) {
				if (!on) {
					const found = await notFound(listener, method, p, 'not_found');
					ok(found.length === 0, `${tag} ${method} ${p}${where[listener]} is 404 not_found: the document does not put it there`, found);
					continue;
				}
				let body = o.op.requestBody ? (ex ? fixture(ex) : '{}') : undefined;
				const headers = body ? { 'Content-Type': 'application/json' } : {};
				const want = { notFound: served ? false : undefined, listener };
				if (ltok && isLookup(o.template)) {
					// with its token and its platform's first example answered 200: a 200
					const slug = o.template.startsWith('/precall/') ? decodeURIComponent(p.split('/')[2]) : null;
					const source = o.params.source ? decodeURIComponent(p.split('/')[3]) : null;
					const le = slug && lex.find((e) => e.slug === slug && answerOf(e.o, e.name)?.status === '200');
					if (le) body = JSON.stringify(le.value);
					headers.Authorization = `Bearer ${source ? sourceOf(slug, source)?.token : slug ? ltok[slug] : Object.values(ltok)[0]}`;
					want.status = 200;
				}
				await check(o, p, body, headers, `${method} ${p}${where[listener]} is ${served ? 'served' : 'answered'} as the document says`, want);
			}
		}
	}

	// Every other method the server knows: 405, with Allow naming the document's (the
	// lookup routes too, with no lookup token configured: the method is looked at first).
	if (phase === 'secured' || phase === 'admin') {
		for (const listener of listeners) {
			for (const template of Object.keys(doc.paths)) {
				const mine = ops.filter((o) => o.template === template && servedOn(o, listener, adminSet) && (!needsSources(o) || phase === 'secured'));
				if (!mine.length) continue;
				const { paths, error } = concretePaths(doc, mine[0]);
				if (error) continue;
				const allowed = mine.map((o) => o.method.toUpperCase()).sort();
				for (const method of METHODS.map((m) => m.toUpperCase()).filter((m) => !allowed.includes(m))) {
					const ans = await request(ports[listener], method, paths[0], ['POST', 'PUT', 'PATCH'].includes(method) ? '{}' : undefined);
					const allow = String(ans.headers?.allow || '').split(',').map((s) => s.trim()).filter(Boolean).sort();
					const found = [];
					if (ans.status !== 405) found.push(`status ${ans.status}, want 405`);
					else found.push(...problemsOf(doc, ajv, doc.components.responses.MethodNotAllowed, ['components', 'responses', 'MethodNotAllowed'], ans, method === 'HEAD'));
					if (!equal(allow, allowed)) found.push(`Allow: ${allow.join(', ')}; the document: ${allowed.join(', ')}`);
					ok(found.length === 0, `${tag} ${method} ${paths[0]}${where[listener]}: 405, Allow ${allowed.join(', ')}`, found, `answer: ${brief(ans)}`);
				}
			}
		}
	}

	// Paths the document does not have: 404, to GET and to POST, on every listener.
	if (phase === 'open' || phase === 'secured' || phase === 'admin') {
		for (const p of probes) {
			if (!ok(!pathKnown(ajv, ops, p), `${tag} probe ${p} is not a path of the document`, 'the document describes it now: take it off the probe list of 68-openapi.t')) continue;
			for (const listener of listeners) {
				const found = [...(await notFound(listener, 'GET', p)), ...(await notFound(listener, 'POST', p))];
				ok(found.length === 0, `${tag} ${p}${where[listener]}: 404 to GET and POST (served but not described?)`, found);
			}
		}
	}

	// The database away for longer than CALLBRIDGE_READY_DB_DOWN_SECONDS: /readyz says
	// database_down, as the document's 503 of it does.
	if (phase === 'admin') {
		const ready = ops.find((o) => o.template === '/readyz' && o.method === 'get');
		await check(ready, '/readyz', undefined, {}, 'GET /readyz on the admin listener, the database away: 503 database_down', { status: 503, error: 'database_down', listener: 'admin' });
	}

	// Signatures and tokens, made as the document's security schemes say.
	if (phase === 'secured') {
		const { tokenSlug, token, secrets } = securedSettings(doc, ops);
		const main = ops.find((o) => o.template === '/webhooks/{platform}' && o.method === 'post');
		const tokenOp = segmentOp(ops);
		const sourceOp = ops.find((o) => o.template === '/webhooks/{platform}/{source}/{token}' && o.method === 'post');
		const schemes = doc.components.securitySchemes;
		const schemesOf = (slug) => (main.op.security || []).filter((req) => Object.keys(req).length && Object.keys(req).every((n) => (schemes[n]?.['x-default-for'] || []).includes(slug)));
		for (const p of platforms) {
			const e = examples.find((x) => x.name.startsWith(`${p.slug}/`));
			if (!e) continue;
			const body = fixture(e);
			const firstStatus = answerOf(e.o, e.name)?.status;
			const json = { 'Content-Type': 'application/json' };
			if (p.slug === tokenSlug) {
				await check(main, `/webhooks/${p.slug}`, body, json, `${p.slug} with a path token, without it: 401 token_invalid`, { status: 401, error: 'token_invalid' });
				await check(tokenOp, `/webhooks/${p.slug}/${token}`, body, json, `${p.slug} with its path token: ${firstStatus}`, { status: firstStatus });
				await check(tokenOp, `/webhooks/${p.slug}/not-${token}`, body, json, `${p.slug} with another token (a segment that names no source): 401 token_invalid`, { status: 401, error: 'token_invalid' });
				await check(sourceOp, `/webhooks/${p.slug}/default/${token}`, body, json, `${p.slug}'s default source named, through its path token: ${firstStatus}`, { status: firstStatus });
				await check(sourceOp, `/webhooks/${p.slug}/${token}/x`, body, json, `${p.slug}: /webhooks/${p.slug}/{token}/x names no source, 404 unknown_source`, { status: 404, error: 'unknown_source' });
				continue;
			}
			await check(main, `/webhooks/${p.slug}`, body, json, `${p.slug} unsigned: 401 signature_missing`, { status: 401, error: 'signature_missing' });
			await check(tokenOp, `/webhooks/${p.slug}/${token}`, body, json, `${p.slug} has no path token: /webhooks/${p.slug}/{token} names no source, 404 unknown_source`, { status: 404, error: 'unknown_source' });
			const mine = (main.op.security || []).filter((req) => Object.keys(req).length && Object.keys(req).every((n) => (schemes[n]?.['x-default-for'] || []).includes(p.slug)));
			ok(mine.length > 0, `${tag} ${p.slug}: the document says how it is signed`);
			for (const req of mine) {
				const headers = sign(schemes, req, secrets[p.slug], body);
				const names = Object.keys(req).map((n) => schemes[n].name).join(', ');
				if (!ok(headers, `${tag} ${p.slug}: the test can sign ${names}`)) continue;
				await check(main, `/webhooks/${p.slug}`, body, { ...json, ...headers }, `${p.slug} signed in ${names}: ${firstStatus}`, { status: firstStatus });
				await check(main, `/webhooks/${p.slug}`, body + ' ', { ...json, ...headers }, `${p.slug} signed in ${names}, a byte added: 401 signature_invalid`, { status: 401, error: 'signature_invalid' });
				await check(tokenOp, `/webhooks/${p.slug}/default`, body, { ...json, ...headers }, `${p.slug}'s default source named, /webhooks/${p.slug}/default, signed in ${names}: ${firstStatus}`, { status: firstStatus });
			}
		}

		// The sources of the sources file (sources.md), each on its own route: signed with
		// its own secret, not the default source's; through its own path token; with
		// neither a secret nor a token (nor insecure = true), refused whatever comes.
		// The document's examples of these routes are sources of the file.
		const segSource = tokenOp?.params.segment?.examples?.source?.value;
		ok(sourceOf(tokenOp?.params.platform?.example, segSource), `${tag} the example source ${segSource} of /webhooks/{platform}/{segment} is a source of the sources file`);
		const ex = sourceOp && sourceOf(sourceOp.params.platform?.example, sourceOp.params.source?.example);
		ok(ex?.path_token && ex.path_token === sourceOp.params.token?.example, `${tag} the example of /webhooks/{platform}/{source}/{token} is a source of the sources file and its path token`);
		const lookupSource = ops.find((o) => o.template === '/precall/{platform}/{source}' && o.method === 'post');
		ok(lookupSource && sourceOf(lookupSource.params.platform?.example, lookupSource.params.source?.example)?.token, `${tag} the example of /precall/{platform}/{source} is a source of the sources file with a lookup token`);
		for (const src of Object.values(sources)) {
			const e = examples.find((x) => x.name.startsWith(`${src.slug}/`));
			if (!ok(e, `${tag} source ${src.slug}.${src.name}: its platform has a request example`)) continue;
			const body = fixture(e);
			const firstStatus = answerOf(e.o, e.name)?.status;
			const json = { 'Content-Type': 'application/json' };
			const at = `/webhooks/${src.slug}/${src.name}`;
			const id = `source ${src.slug}.${src.name}`;
			const reqs = schemesOf(src.slug);
			const signed = (secret, b = body) => (secret && reqs.length ? sign(schemes, reqs[0], secret, b) || {} : {});
			const own = signed(src.secret);
			if (src.path_token) {
				const tok = encodeURIComponent(src.path_token);
				await check(tokenOp, at, body, { ...json, ...own }, `${id}, without its path token: 401 token_invalid`, { status: 401, error: 'token_invalid' });
				await check(sourceOp, `${at}/${tok}`, body, { ...json, ...own }, `${id} through its path token: ${firstStatus}`, { status: firstStatus });
				await check(sourceOp, `${at}/${tok}/`, body, { ...json, ...own }, `${id} through its path token, a trailing slash: ${firstStatus}`, { status: firstStatus });
				await check(sourceOp, `${at}/not-${tok}`, body, { ...json, ...own }, `${id} with another path token: 401 token_invalid`, { status: 401, error: 'token_invalid' });
			} else {
				await check(sourceOp, `${at}/a-token`, body, { ...json, ...own }, `${id} has no path token: ${at}/{token} is 404 not_found`, { status: 404, error: 'not_found' });
			}
			if (src.secret) {
				ok(reqs.length > 0, `${tag} ${id}: the document says how ${src.slug} is signed`);
				for (const req of reqs) {
					const headers = sign(schemes, req, src.secret, body);
					const names = Object.keys(req).map((n) => schemes[n].name).join(', ');
					if (!ok(headers, `${tag} ${id}: the test can sign ${names}`)) continue;
					if (src.path_token) continue; // checked above, signed
					await check(tokenOp, at, body, { ...json, ...headers }, `${id} signed in ${names} with its secret: ${firstStatus}`, { status: firstStatus });
					await check(tokenOp, `${at}/`, body, { ...json, ...headers }, `${id}/ signed in ${names} with its secret: ${firstStatus}`, { status: firstStatus });
					await check(tokenOp, at, body + ' ', { ...json, ...headers }, `${id} signed in ${names}, a byte added: 401 signature_invalid`, { status: 401, error: 'signature_invalid' });
					if (secrets[src.slug]) {
						await check(tokenOp, at, body, { ...json, ...sign(schemes, req, secrets[src.slug], body) }, `${id} signed with the default source's secret: 401 signature_invalid`, { status: 401, error: 'signature_invalid' });
					}
				}
				if (!src.path_token) await check(tokenOp, at, body, json, `${id} unsigned: 401 signature_missing`, { status: 401, error: 'signature_missing' });
			} else if (!src.path_token && !src.bearer_token && src.insecure !== 'true') {
				await check(tokenOp, at, body, json, `${id}, neither a secret nor a token: unsigned, 401 signature_missing`, { status: 401, error: 'signature_missing' });
				if (secrets[src.slug]) {
					await check(tokenOp, at, body, { ...json, ...signed(secrets[src.slug]) }, `${id}, neither a secret nor a token: signed with the default source's secret, 401 signature_missing`, { status: 401, error: 'signature_missing' });
				}
			} else if (src.insecure === 'true' && !src.path_token && !src.bearer_token) {
				await check(tokenOp, at, body, json, `${id}, insecure: unsigned, ${firstStatus}`, { status: firstStatus });
			}
			// The name under a platform that has no source of it, and whose default source
			// has no path token: no such source.
			const other = platforms.map((q) => q.slug).find((q) => q !== tokenSlug && !sourceOf(q, src.name));
			if (other) await check(tokenOp, `/webhooks/${other}/${src.name}`, body, json, `${src.name} under ${other}, which has no such source: 404 unknown_source`, { status: 404, error: 'unknown_source' });
		}
	}
}

function safeJSON(s) {
	try {
		return JSON.parse(s);
	} catch {
		return undefined;
	}
}

// ---- main ----------------------------------------------------------------------------------

const [cmd, ...args] = process.argv.slice(2);
if (cmd === 'static') {
	await checkStatic(args[0], args[1], args[2]);
} else if (cmd === 'env') {
	const doc = load(args[0]);
	const { tokenSlug, token, secrets } = securedSettings(doc, operations(doc));
	if (tokenSlug) console.log(`CALLBRIDGE_${tokenSlug.toUpperCase()}_PATH_TOKEN=${token}`);
	for (const [slug, secret] of Object.entries(secrets)) console.log(`CALLBRIDGE_${slug.toUpperCase()}_SECRET=${secret}`);
	for (const [slug, token] of Object.entries(lookupTokens(doc))) console.log(`CALLBRIDGE_${slug.toUpperCase()}_PRECALL_TOKEN=${token}`);
} else if (cmd === 'live') {
	const [docFile, platformsFile, port, phase, ...probes] = args;
	const [pub, admin] = port.split(',').map(Number);
	await checkLive(docFile, platformsFile, { public: pub, admin }, phase, probes);
} else {
	console.error('usage: check.mjs static|env|live ...');
	process.exit(2);
}
