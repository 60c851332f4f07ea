#!/usr/bin/env node
// Paced pre-call lookups for `make bench` (scripts/bench-lookup.sh): POST /precall/simpleai
// at a fixed rate, open loop (a request is sent when its time comes, whether or not
// earlier ones have been answered), over keep-alive connections, and the latency of
// every request measured. A closed-loop tool (wrk) slows down when the server does and
// so hides the slow answers; this one does not.
//
//   node scripts/bench-lookup-paced.js URL RATE SECONDS
//   env: BENCH_PRECALL_TOKEN, BENCH_LOOKUP_CUSTOMERS (20000), BENCH_LOOKUP_KNOWN (0.7),
//        BENCH_LOOKUP_SOCKETS (256: at most this many requests in flight; more wait
//        in this client, and their wait counts in the latency)
//
// Callers are picked as scripts/bench-lookup.lua picks them. Two latencies per request:
// from the moment it was due (its place in the schedule: includes any delay of this
// client's own timer, so it errs on the slow side) and from the moment it was handed to
// the socket. Prints one line: PACED key=value ...
'use strict';
const http = require('http');

const [url, rateArg, secondsArg] = process.argv.slice(2);
const rate = Number(rateArg || 200);
const seconds = Number(secondsArg || 20);
const token = process.env.BENCH_PRECALL_TOKEN || 'bench';
const customers = Number(process.env.BENCH_LOOKUP_CUSTOMERS || 20000);
const known = Number(process.env.BENCH_LOOKUP_KNOWN || 0.7);
const agent = new http.Agent({ keepAlive: true, maxSockets: Number(process.env.BENCH_LOOKUP_SOCKETS || 256) });
const target = new URL('/precall/simpleai', url);

const formats = [
	(a, x, l) => `+1${a}${x}${l}`,
	(a, x, l) => `+1 (${a}) ${x}-${l}`,
	(a, x, l) => `(${a}) ${x}-${l}`,
	(a, x, l) => `${a}.${x}.${l}`,
	(a, x, l) => `${a}${x}${l}`,
	(a, x, l) => `1-${a}-${x}-${l}`,
];

function phone() {
	let area, n;
	if (Math.random() < known) {
		area = '415';
		n = 2000000 + Math.floor(customers * Math.random() ** 1.5);
	} else {
		area = '628';
		n = 3000000 + Math.floor(Math.random() * 1000000);
	}
	const s = String(n);
	return formats[Math.floor(Math.random() * formats.length)](area, s.slice(0, 3), s.slice(3));
}

const nowMs = () => Number(process.hrtime.bigint()) / 1e6;
const fromDue = [], fromSend = [];
let sent = 0, done = 0, non200 = 0, errors = 0, knownAnswers = 0;

function send(due) {
	const body = JSON.stringify({
		call: { from_number: phone(), to_number: '+18005550100', direction: 'inbound', timestamp: '2026-11-29T12:00:00Z' },
		agent: { id: 'agent-uuid', name: 'Support Agent' },
	});
	sent++;
	const req = http.request(target, {
		method: 'POST', agent,
		headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body), Authorization: `Bearer ${token}` },
	}, (res) => {
		const chunks = [];
		res.on('data', (c) => chunks.push(c));
		res.on('end', () => {
			const end = nowMs();
			done++;
			if (res.statusCode !== 200) non200++;
			else if (Buffer.concat(chunks).toString().includes('"known":"true"')) knownAnswers++;
			fromDue.push(end - due);
			fromSend.push(end - start);
		});
	});
	const start = nowMs();
	req.on('error', () => { errors++; done++; });
	req.end(body);
}

const pct = (a, p) => a.length ? a[Math.min(a.length - 1, Math.ceil(a.length * p / 100) - 1)] : NaN;
const t0 = nowMs();
const total = Math.floor(rate * seconds);
let next = 0;
function tick() {
	const now = nowMs();
	while (next < total && t0 + next * 1000 / rate <= now) send(t0 + next++ * 1000 / rate);
	if (next < total) setTimeout(tick, Math.max(0, t0 + next * 1000 / rate - nowMs()));
	else finish();
}
function finish() {
	if (done < sent) { setTimeout(finish, 10); return; }
	const elapsed = (nowMs() - t0) / 1000;
	fromDue.sort((a, b) => a - b);
	fromSend.sort((a, b) => a - b);
	const f = (x) => x.toFixed(2);
	console.log(`PACED requests=${sent} non200=${non200} errors=${errors} known=${knownAnswers} seconds=${elapsed.toFixed(2)} rate=${(done / elapsed).toFixed(0)}`);
	console.log(`PACED p50_ms=${f(pct(fromDue, 50))} p90_ms=${f(pct(fromDue, 90))} p99_ms=${f(pct(fromDue, 99))} max_ms=${f(fromDue[fromDue.length - 1])} (from when due)`);
	console.log(`PACED p50_ms=${f(pct(fromSend, 50))} p90_ms=${f(pct(fromSend, 90))} p99_ms=${f(pct(fromSend, 99))} max_ms=${f(fromSend[fromSend.length - 1])} (from when sent)`);
	agent.destroy();
}
tick();
