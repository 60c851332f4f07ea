#!/usr/bin/env node
// Offline validation of Kubernetes manifests, as far as an API server would refuse them
// (no cluster needed): every object of every YAML file given
//   - against the JSON schema of its apiVersion and kind (kubernetes-models: types,
//     required fields, enums);
//   - for fields the API does not have, which the schemas let through and `kubectl apply`
//     refuses (strict field validation): the field names come from the packages' type
//     declarations (.d.ts), walked alongside the object;
//   - for a metadata.name the API server would take.
// Prints "valid FILE KIND/NAME" or "invalid FILE KIND/NAME: WHY" per object; exits 1 when
// one is invalid.
//   node validate.js FILE...
"use strict";
const fs = require("fs");
const path = require("path");
const YAML = require("yaml");

const MODULES = path.join(__dirname, "node_modules");

// ---- the type declarations, as a tree of field names ---------------------------------
// A type is {kind: "object", fields: {name: {type, required}}}, {kind: "map", of},
// {kind: "array", of}, {kind: "ref", file, name}, or {kind: "leaf"} (a string, number,
// boolean or a union of them: the schemas check those).
const files = new Map(); // .d.ts path -> {imports, main}

function dtsFile(spec, from) {
	const base = spec.startsWith(".") ? path.resolve(path.dirname(from), spec) : path.join(MODULES, spec);
	return base + ".d.ts";
}

function load(file) {
	if (files.has(file)) return files.get(file);
	const text = fs.readFileSync(file, "utf8").replace(/\/\*[\s\S]*?\*\//g, "");
	const imports = {};
	for (const m of text.matchAll(/import \{([^}]*)\} from "([^"]+)";/g))
		for (const name of m[1].split(",")) imports[name.trim()] = dtsFile(m[2], file);
	// The file's own type: its first exported interface, or type alias.
	let main;
	const iface = /export interface \w+(?: extends ([\w, ]+))? \{/.exec(text);
	const alias = /export declare type \w+ = ([^;]+);/.exec(text);
	if (iface && (!alias || iface.index < alias.index)) {
		main = parseType(text, iface.index + iface[0].length - 1, file, imports).type;
	} else if (alias) {
		main = parseType(alias[1], 0, file, imports).type;
	} else {
		throw new Error(`no type in ${file}`);
	}
	const entry = { main };
	files.set(file, entry);
	return entry;
}

// parseType(TEXT, AT): the type starting at AT, and where it ends.
function parseType(text, at, file, imports) {
	const ws = () => {
		while (/\s/.test(text[at] || "")) at++;
	};
	function primary() {
		ws();
		if (text.startsWith("Array<", at)) {
			at += 6;
			const of = union();
			ws();
			expect(">");
			return { kind: "array", of };
		}
		if (text[at] === "{") {
			at++;
			ws();
			const map = /^\[key: string\]:/.exec(text.slice(at));
			if (map) {
				at += map[0].length;
				const of = union();
				ws();
				if (text[at] === ";") at++;
				ws();
				expect("}");
				return { kind: "map", of };
			}
			const fields = {};
			for (;;) {
				ws();
				if (text[at] === "}") {
					at++;
					return { kind: "object", fields };
				}
				const f = /^"?([\w$-]+)"?(\??):/.exec(text.slice(at));
				if (!f) throw new Error(`cannot read a field at ${file}: ${text.slice(at, at + 40)}`);
				at += f[0].length;
				fields[f[1]] = { type: union(), required: f[2] !== "?" };
				ws();
				if (text[at] === ";") at++;
			}
		}
		const lit = /^("[^"]*"|-?\d+(\.\d+)?|true|false|null)/.exec(text.slice(at));
		if (lit) {
			at += lit[0].length;
			return { kind: "leaf" };
		}
		const id = /^\w+/.exec(text.slice(at));
		if (!id) throw new Error(`cannot read a type at ${file}: ${text.slice(at, at + 40)}`);
		at += id[0].length;
		if (["string", "number", "boolean"].includes(id[0])) return { kind: "leaf" };
		if (["any", "unknown", "object"].includes(id[0])) return { kind: "any" };
		if (!imports[id[0]]) throw new Error(`unknown type ${id[0]} in ${file}`);
		return { kind: "ref", file: imports[id[0]] };
	}
	function union() {
		const parts = [primary()];
		for (;;) {
			ws();
			if (text[at] !== "|") break;
			at++;
			parts.push(primary());
		}
		if (parts.length === 1) return parts[0];
		// A union of structures (none in the core API) is not checked further.
		return parts.every((p) => p.kind === "leaf") ? { kind: "leaf" } : { kind: "any" };
	}
	function expect(c) {
		if (text[at] !== c) throw new Error(`expected '${c}' at ${file}: ${text.slice(at, at + 40)}`);
		at++;
	}
	const type = union();
	return { type, end: at };
}

function resolve(type) {
	while (type.kind === "ref") type = load(type.file).main;
	return type;
}

// unknownFields(VALUE, TYPE, WHERE): the paths of the fields TYPE does not have.
function unknownFields(value, type, where, out) {
	type = resolve(type);
	if (value === null || typeof value !== "object") return out; // the schema checks leaves
	if (type.kind === "array" && Array.isArray(value))
		value.forEach((v, i) => unknownFields(v, type.of, `${where}[${i}]`, out));
	else if (type.kind === "map" && !Array.isArray(value))
		for (const [k, v] of Object.entries(value)) unknownFields(v, type.of, `${where}.${k}`, out);
	else if (type.kind === "object" && !Array.isArray(value))
		for (const [k, v] of Object.entries(value)) {
			if (!type.fields[k]) out.push(`${where}.${k}`);
			else unknownFields(v, type.fields[k].type, `${where}.${k}`, out);
		}
	return out;
}

// ---- one object ------------------------------------------------------------------------
// The model of apiVersion/kind: "v1" is the core group, "apps/v1" a named one.
function model(apiVersion, kind) {
	if (typeof apiVersion !== "string" || !/^([a-z0-9.-]+\/)?v\d+((alpha|beta)\d+)?$/.test(apiVersion)) return null;
	let mod;
	try {
		mod = require(`kubernetes-models/${apiVersion}`);
	} catch {
		return null;
	}
	const Model = Object.prototype.hasOwnProperty.call(mod, kind) ? mod[kind] : null;
	if (!Model) return null;
	return { Model, dts: path.join(MODULES, "kubernetes-models", apiVersion, `${kind}.d.ts`) };
}

const DNS1123_SUBDOMAIN = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS1035_LABEL = /^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/; // Services

function problems(obj) {
	if (obj === null || typeof obj !== "object" || Array.isArray(obj)) return ["not a mapping"];
	const m = model(obj.apiVersion, obj.kind);
	if (!m) return [`no API type ${obj.apiVersion}/${obj.kind}`];
	const out = [];
	try {
		new m.Model(obj).validate();
	} catch (e) {
		out.push(String(e.message || e).replace(/\s+/g, " "));
	}
	for (const f of unknownFields(obj, { kind: "ref", file: m.dts }, "", []))
		out.push(`unknown field ${f.slice(1)}`);
	const name = obj.metadata && obj.metadata.name;
	if (typeof name !== "string") out.push("metadata.name missing");
	else if (!(obj.kind === "Service" ? DNS1035_LABEL : DNS1123_SUBDOMAIN).test(name))
		out.push(`metadata.name '${name}' is not a valid ${obj.kind} name`);
	return out;
}

// ---- the files -------------------------------------------------------------------------
let bad = 0;
const args = process.argv.slice(2);
if (args.length === 0) {
	console.error("usage: node validate.js FILE...");
	process.exit(2);
}
for (const file of args) {
	const docs = YAML.parseAllDocuments(fs.readFileSync(file, "utf8"));
	docs.forEach((doc, i) => {
		let label = `${file} #${i + 1}`;
		let why;
		if (doc.errors.length) {
			why = [doc.errors[0].message.split("\n")[0]];
		} else {
			const obj = doc.toJS();
			if (obj === null) return; // an empty document, e.g. after a trailing ---
			label = `${file} ${obj.kind || "?"}/${(obj.metadata && obj.metadata.name) || "?"}`;
			why = problems(obj);
		}
		if (why.length) {
			bad++;
			console.log(`invalid ${label}: ${why.join("; ")}`);
		} else {
			console.log(`valid ${label}`);
		}
	});
}
process.exit(bad ? 1 : 0);
