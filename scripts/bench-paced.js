#!/usr/bin/env node
// Paced SimZ deliveries for `make bench` (scripts/bench-paced.sh): POST /webhooks/simz at a
// fixed rate, open loop (a request is sent when its time comes, whether or not earlier
// ones have been answered), over keep-alive connections. Each request is a new delivery:
// bench/templates/simz--call-completed.json with every @ID@ replaced by an id unique to
// the request, as bench/load.lua does.
//
// Latency is measured from the moment the request was due in the schedule, not from when
// it reached a socket: a request due while every connection waits for an answer waits in
// this client, and that wait counts (no coordinated omission); waiting_max is the most
// requests that waited so at once (more than none: the server's answer time times the
// rate exceeded the connections). It includes any delay of this client's own timer, so
// it errs on the slow side; client_lag_max_ms says how large that delay was.
//
// HTTP/1.1 is spoken on plain sockets, one request at a time on each, rather than with
// node's http module: that costs about 160 µs of CPU per request, half a core at 3,000/s,
// taken from the daemon and PostgreSQL on a small machine. The connections are opened
// before the schedule starts.
//
//   node scripts/bench-paced.js URL RATE SECONDS
//   env: BENCH_PACED_CONNECTIONS (40)
//        BENCH_PACED_DRAIN (30: seconds to wait for the last answers after the schedule
//        ends; requests still unanswered then are counted as unanswered)
//
// Prints three lines: PACED key=value ...
'use strict';
const fs = require('fs');
const net = require('net');
const path = require('path');

const [url, rateArg, secondsArg] = process.argv.slice(2);
const rate = Number(rateArg || 3000);
const seconds = Number(secondsArg || 30);
const connections = Number(process.env.BENCH_PACED_CONNECTIONS || 40);
const drainMs = 1000 * Number(process.env.BENCH_PACED_DRAIN || 30);
const target = new URL('/webhooks/simz', url);
const host = target.hostname, port = Number(target.port || 80);
const parts = fs.readFileSync(path.join(__dirname, '..', 'bench', 'templates', 'simz--call-completed.json'), 'utf8').split('@ID@');
// Unique across runs (a new process each phase) and apart from wrk's "b..." ids.
const prefix = `p${process.pid}_${Date.now()}_`;

const nowMs = () => Number(process.hrtime.bigint()) / 1e6;
const total = Math.floor(rate * seconds);
const latency = new Float64Array(total);
const second = new Uint32Array(total); // of the schedule, in which each answered request was due
let answered = 0, ok = 0, non2xx = 0, errors = 0, lagMax = 0, waitingMax = 0, next = 0, t0 = 0;
const waiting = []; // due times of requests waiting for a free connection
const idle = [];

function request(n) {
	const body = parts.join(prefix + n);
	return `POST ${target.pathname} HTTP/1.1\r\nHost: ${target.host}\r\nContent-Type: application/json\r\n`
		+ `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
}

// One connection: sends one request, reads its answer (Content-Length or chunked), then
// takes the next waiting request or goes idle. Reconnects when the server closes it; a
// request in flight then counts as an error.
function connection() {
	const c = { sock: null, due: -1, buf: Buffer.alloc(0) };
	c.send = (due, n) => { c.due = due; c.sock.write(request(n)); };
	c.open = () => new Promise((resolve) => {
		c.sock = net.connect(port, host, () => { c.sock.setNoDelay(true); resolve(); });
		c.sock.on('data', (d) => { c.buf = c.buf.length ? Buffer.concat([c.buf, d]) : d; c.parse(); });
		c.sock.on('error', () => {});
		c.sock.on('close', () => {
			if (c.due >= 0) { errors++; c.due = -1; }
			c.buf = Buffer.alloc(0);
			const i = idle.indexOf(c);
			if (i >= 0) idle.splice(i, 1);
			// A pause, so that a server that refuses connections is not hammered.
			if (next < total || waiting.length) setTimeout(() => c.open().then(() => c.free()), 10);
		});
	});
	c.parse = () => {
		const h = c.buf.indexOf('\r\n\r\n');
		if (h < 0) return;
		const head = c.buf.toString('latin1', 0, h);
		const status = Number(head.slice(9, 12));
		const cl = /\r\ncontent-length:\s*(\d+)/i.exec(head);
		let end;
		if (cl) {
			end = h + 4 + Number(cl[1]);
			if (c.buf.length < end) return;
		} else if (/\r\ntransfer-encoding:\s*chunked/i.test(head)) {
			let p = h + 4;
			for (;;) {
				const e = c.buf.indexOf('\r\n', p);
				if (e < 0) return;
				const size = parseInt(c.buf.toString('latin1', p, e), 16);
				p = e + 2 + size + 2;
				if (c.buf.length < p) return;
				if (size === 0) break;
			}
			end = p;
		} else end = h + 4;
		c.buf = c.buf.subarray(end);
		second[answered] = Math.floor((c.due - t0) / 1000);
		latency[answered++] = nowMs() - c.due;
		if (status >= 200 && status < 300) ok++;
		else non2xx++;
		c.due = -1;
		if (/\r\nconnection:\s*close/i.test(head)) c.sock.destroy();
		else c.free();
	};
	c.free = () => {
		if (waiting.length) { const [due, n] = waiting.shift(); c.send(due, n); } else idle.push(c);
	};
	return c;
}

function dispatch(due, n) {
	const c = idle.pop();
	if (c) c.send(due, n);
	else if (waiting.push([due, n]) > waitingMax) waitingMax = waiting.length;
}

function tick() {
	const now = nowMs();
	if (next < total && t0 + next * 1000 / rate <= now) lagMax = Math.max(lagMax, now - (t0 + next * 1000 / rate));
	while (next < total && t0 + next * 1000 / rate <= now) { dispatch(t0 + next * 1000 / rate, next); next++; }
	if (next < total) setTimeout(tick, Math.max(0, t0 + next * 1000 / rate - nowMs()));
	else finish(nowMs());
}

const pct = (a, p) => a.length ? a[Math.min(a.length - 1, Math.max(0, Math.ceil(a.length * p / 100) - 1))] : NaN;
function finish(scheduleEnd) {
	if (answered + errors < total && nowMs() - scheduleEnd < drainMs) { setTimeout(() => finish(scheduleEnd), 10); return; }
	const elapsed = (nowMs() - t0) / 1000;
	// p99 of each second of the schedule: where in the run the slow answers were.
	const bySecond = [];
	for (let i = 0; i < answered; i++) (bySecond[second[i]] ||= []).push(latency[i]);
	const p99s = Array.from(bySecond, (a) => a ? pct(a.sort((x, y) => x - y), 99).toFixed(1) : '-');
	const l = latency.subarray(0, answered).sort();
	const f = (x) => x.toFixed(2);
	console.log(`PACED requests=${total} ok=${ok} non2xx=${non2xx} errors=${errors} unanswered=${total - answered - errors}`
		+ ` seconds=${elapsed.toFixed(2)} rate=${(answered / elapsed).toFixed(0)} connections=${connections}`);
	console.log(`PACED p50_ms=${f(pct(l, 50))} p99_ms=${f(pct(l, 99))} p99.9_ms=${f(pct(l, 99.9))} max_ms=${f(l[l.length - 1])}`
		+ ` (from when due) client_lag_max_ms=${f(lagMax)} waiting_max=${waitingMax}`);
	console.log(`PACED p99_ms_by_second=${p99s.join(',')}`);
	process.exit(0);
}

const conns = Array.from({ length: connections }, connection);
const opening = setTimeout(() => { console.error('bench-paced: could not open the connections'); process.exit(1); }, 10000);
Promise.all(conns.map((c) => c.open())).then(() => {
	clearTimeout(opening);
	idle.push(...conns);
	t0 = nowMs();
	tick();
});
