#!/usr/bin/env node
// The resolved compose file (`docker-compose config` on stdin) as lines that a shell test
// can grep, one fact each:
//   service NAME PROFILES       (PROFILES: comma-separated, or - for none)
//   env SERVICE KEY=VALUE
//   volume SERVICE SOURCE:TARGET
//   port SERVICE PUBLISHED:TARGET
//   depends SERVICE OTHER
//   named-volume NAME
"use strict";
const YAML = require("yaml");

let text = "";
process.stdin.on("data", (d) => (text += d));
process.stdin.on("end", () => {
	const cfg = YAML.parse(text) || {};
	const out = [];
	for (const [name, s] of Object.entries(cfg.services || {})) {
		out.push(`service ${name} ${(s.profiles || []).join(",") || "-"}`);
		const env = Array.isArray(s.environment)
			? Object.fromEntries(s.environment.map((e) => [e.split("=")[0], e.split("=").slice(1).join("=")]))
			: s.environment || {};
		for (const [k, v] of Object.entries(env)) out.push(`env ${name} ${k}=${v === null ? "" : v}`);
		for (const v of s.volumes || []) {
			const spec = typeof v === "string" ? v.split(":").slice(0, 2).join(":") : `${v.source}:${v.target}`;
			out.push(`volume ${name} ${spec}`);
		}
		for (const p of s.ports || []) {
			const spec = typeof p === "string" ? p : `${p.published}:${p.target}`;
			out.push(`port ${name} ${spec}`);
		}
		const deps = Array.isArray(s.depends_on) ? s.depends_on : Object.keys(s.depends_on || {});
		for (const d of deps) out.push(`depends ${name} ${d}`);
	}
	for (const v of Object.keys(cfg.volumes || {})) out.push(`named-volume ${v}`);
	console.log(out.join("\n"));
});
