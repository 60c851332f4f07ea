#!/usr/bin/env node
// What deploy/kubernetes must say beyond being valid API objects: the facts callbridge's
// design rests on (docs/deploy.md), so that an edit that keeps the YAML valid but breaks
// one of them is caught. Prints "ok FACT" or "not ok FACT: WHY" per fact; exits 1 when
// one does not hold.
//   node design.js DIR
"use strict";
const fs = require("fs");
const path = require("path");
const YAML = require("yaml");

const dir = process.argv[2];
if (!dir) {
	console.error("usage: node design.js DIR");
	process.exit(2);
}
const objs = [];
for (const f of fs.readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort())
	for (const doc of YAML.parseAllDocuments(fs.readFileSync(path.join(dir, f), "utf8")))
		if (doc.toJS()) objs.push(doc.toJS());
const of = (kind) => objs.filter((o) => o.kind === kind);

let bad = 0;
function fact(what, ok, why = "") {
	if (ok) console.log(`ok ${what}`);
	else {
		bad++;
		console.log(`not ok ${what}${why ? `: ${why}` : ""}`);
	}
}
const env = (c, name) => (c.env || []).find((e) => e.name === name);
const envValue = (c, name) => (env(c, name) || {}).value;
const fromSecret = (c, name) => Boolean(env(c, name) && env(c, name).valueFrom && env(c, name).valueFrom.secretKeyRef);
// selects(SELECTOR, LABELS): every label the selector asks for is on the pods
const selects = (sel, labels) =>
	Boolean(sel) && Object.keys(sel).length > 0 && Object.entries(sel).every(([k, v]) => labels[k] === v);
const seconds = (q) => Number(q);
// bytes of a Kubernetes quantity: 2Gi, 512Mi, 1G, 1073741824
function bytes(q) {
	const m = /^(\d+)(Ki|Mi|Gi|Ti|k|M|G|T)?$/.exec(String(q));
	if (!m) return NaN;
	const unit = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, k: 1e3, M: 1e6, G: 1e9, T: 1e12 };
	return Number(m[1]) * (m[2] ? unit[m[2]] : 1);
}

const sets = of("StatefulSet");
fact("one StatefulSet", sets.length === 1, `${sets.length} found`);
if (sets.length !== 1) process.exit(1);
const ss = sets[0];
const pod = ss.spec.template.spec;
const labels = ss.spec.template.metadata.labels || {};
const main = (pod.containers || []).find((c) => (c.command || []).join(" ") === "callbridge serve");
const all = [...(pod.initContainers || []), ...(pod.containers || [])];
fact("a container runs `callbridge serve` (PID 1, gets SIGTERM)", Boolean(main));
if (!main) process.exit(1);

// ---- the spool: a volume of its own per replica ------------------------------------------
const spoolDir = envValue(main, "CALLBRIDGE_SPOOL_DIR");
const claims = ss.spec.volumeClaimTemplates || [];
const mount = (main.volumeMounts || []).find((m) => m.mountPath === spoolDir);
const claim = mount && claims.find((c) => c.metadata.name === mount.name);
fact(
	"CALLBRIDGE_SPOOL_DIR is a mount of a volumeClaimTemplate (each replica its own spool)",
	Boolean(spoolDir && claim),
	`spool dir ${spoolDir}, mounts ${JSON.stringify(main.volumeMounts || [])}`,
);
fact(
	"no volume of the pod template shadows that claim",
	!(pod.volumes || []).some((v) => mount && v.name === mount.name),
);
const retention = ss.spec.persistentVolumeClaimRetentionPolicy || {};
fact(
	"spool volumes are kept when the set is scaled down or deleted",
	(retention.whenScaled || "Retain") === "Retain" && (retention.whenDeleted || "Retain") === "Retain",
);
if (claim) {
	const size = bytes(claim.spec.resources.requests.storage);
	const max = Number(envValue(main, "CALLBRIDGE_SPOOL_MAX_BYTES") || 1073741824);
	fact(
		"the spool volume is larger than CALLBRIDGE_SPOOL_MAX_BYTES",
		size > max,
		`${claim.spec.resources.requests.storage} vs ${max}`,
	);
}

// ---- probes and stopping -------------------------------------------------------------
const port = envValue(main, "PORT") || "8080";
const portOf = (p) =>
	typeof p === "number" ? p : ((main.ports || []).find((x) => x.name === p) || {}).containerPort;
for (const [probe, want] of [
	["readinessProbe", "/readyz"],
	["livenessProbe", "/healthz"],
]) {
	const g = (main[probe] || {}).httpGet || {};
	fact(
		`${probe}: GET ${want} on the port callbridge listens on (${port})`,
		g.path === want && String(portOf(g.port)) === port,
		JSON.stringify(main[probe] || null),
	);
}
const shutdown = seconds(envValue(main, "CALLBRIDGE_SHUTDOWN_TIMEOUT_SECONDS") || 30);
const preStop = ((((main.lifecycle || {}).preStop || {}).exec || {}).command || []).join(" ");
const preStopSeconds = /^sleep (\d+)$/.test(preStop) ? Number(preStop.split(" ")[1]) : 0;
const grace = pod.terminationGracePeriodSeconds === undefined ? 30 : pod.terminationGracePeriodSeconds;
fact(
	`terminationGracePeriodSeconds (${grace}) longer than preStop (${preStopSeconds} s) + CALLBRIDGE_SHUTDOWN_TIMEOUT_SECONDS (${shutdown})`,
	grace > preStopSeconds + shutdown,
);
fact(
	"no Service environment variables (they would be CALLBRIDGE_* names the daemon warns about)",
	pod.enableServiceLinks === false,
);

// ---- database, secrets, migrations ---------------------------------------------------------
const migrate = (pod.initContainers || []).find((c) => (c.command || []).join(" ") === "callbridge migrate");
fact("an initContainer runs `callbridge migrate` before the daemon serves", Boolean(migrate));
fact(
	"DATABASE_URL from a Secret, for migrate and serve",
	fromSecret(main, "DATABASE_URL") && Boolean(migrate) && fromSecret(migrate, "DATABASE_URL"),
);
fact(
	"the platforms' settings from a Secret (envFrom)",
	(main.envFrom || []).some((e) => e.secretRef && e.secretRef.name),
);
fact(
	"no secret written into the manifests",
	!all.some((c) => (c.env || []).some((e) => /_(SECRET|TOKEN)$|^DATABASE_URL$/.test(e.name) && e.value !== undefined)) &&
		of("Secret").length === 0,
);

// ---- security and resources --------------------------------------------------------------
const psc = pod.securityContext || {};
for (const c of all) {
	const sc = c.securityContext || {};
	const nonRoot = (sc.runAsNonRoot ?? psc.runAsNonRoot) === true && (sc.runAsUser ?? psc.runAsUser ?? 1) !== 0;
	fact(
		`${c.name}: non-root, read-only root filesystem, no privilege escalation, no capabilities`,
		nonRoot &&
			sc.readOnlyRootFilesystem === true &&
			sc.allowPrivilegeEscalation === false &&
			JSON.stringify((sc.capabilities || {}).drop) === '["ALL"]',
		JSON.stringify(sc),
	);
	const r = c.resources || {};
	fact(
		`${c.name}: cpu and memory requests and limits`,
		["requests", "limits"].every((k) => r[k] && r[k].cpu !== undefined && r[k].memory !== undefined),
		JSON.stringify(r),
	);
}
fact(
	"the spool volume is writable by the image's user (runAsUser and fsGroup 10001)",
	psc.fsGroup === 10001 && (psc.runAsUser === 10001 || (main.securityContext || {}).runAsUser === 10001),
);

// ---- Services and the disruption budget --------------------------------------------------------
const services = of("Service");
const governing = services.find((s) => s.metadata.name === ss.spec.serviceName);
fact(
	`the StatefulSet's serviceName (${ss.spec.serviceName}) is a headless Service of its pods`,
	Boolean(governing) && governing.spec.clusterIP === "None" && selects(governing.spec.selector, labels),
);
const front = services.filter((s) => s.spec.clusterIP !== "None");
fact(
	"a Service sends to the pods' port, ready pods only",
	front.length > 0 &&
		front.every(
			(s) =>
				selects(s.spec.selector, labels) &&
				!s.spec.publishNotReadyAddresses &&
				s.spec.ports.every((p) => String(portOf(p.targetPort)) === port),
		),
);
const pdbs = of("PodDisruptionBudget");
fact(
	"a PodDisruptionBudget over the pods leaves a replica running",
	pdbs.length === 1 &&
		selects(pdbs[0].spec.selector.matchLabels, labels) &&
		(pdbs[0].spec.maxUnavailable !== undefined
			? Number(pdbs[0].spec.maxUnavailable) >= 1 && Number(pdbs[0].spec.maxUnavailable) < ss.spec.replicas
			: Number(pdbs[0].spec.minAvailable) >= 1 && Number(pdbs[0].spec.minAvailable) < ss.spec.replicas),
);
fact(
	"the selector of the StatefulSet matches its pods",
	selects(ss.spec.selector.matchLabels, labels),
);
process.exit(bad ? 1 : 0);
