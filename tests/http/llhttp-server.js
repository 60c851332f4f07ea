// llhttp-server.js — the reference side of tests/e2e/24-llhttp-diff.t: Node's built-in
// HTTP server (llhttp, strict: insecureHTTPParser false, the default) on a free port of
// 127.0.0.1. It answers every request it dispatches with a small JSON body once the
// request's body has been read, and when a connection closes prints one JSON line on
// stdout:
//   {"addr":"127.1.0.7","port":40312,"dispatched":2,"complete":2,"error":null}
// dispatched: requests handed to the application ('request', 'connect', 'upgrade');
// complete: those of them whose message llhttp parsed to its end (body included);
// error: the code of the 'clientError' it raised (e.g. HPE_INVALID_HEADER_TOKEN), or null.
// The first line printed is {"listening":<port>}. Its only limit change: heads up to
// 128 KiB (llhttp's default is 16 KiB; callbridge's 64 KiB must not be what differs).
'use strict';
const http = require('http');

const server = http.createServer({ insecureHTTPParser: false, maxHeaderSize: 128 * 1024 });
server.keepAliveTimeout = 10000;

function stateOf(socket) {
	return socket.diffState;
}

server.on('connection', (socket) => {
	const st = { addr: socket.remoteAddress, port: socket.remotePort, dispatched: 0, reqs: [], error: null };
	socket.diffState = st;
	socket.on('close', () => {
		const complete = st.reqs.filter((r) => r.complete).length;
		process.stdout.write(JSON.stringify({ addr: st.addr, port: st.port, dispatched: st.dispatched, complete, error: st.error }) + '\n');
	});
});

server.on('request', (req, res) => {
	const st = stateOf(req.socket);
	st.dispatched++;
	st.reqs.push(req);
	const n = st.dispatched;
	req.on('error', () => {});
	req.resume();
	req.on('end', () => {
		const body = JSON.stringify({ status: 'ok', request: n });
		res.setHeader('Content-Type', 'application/json');
		res.setHeader('Content-Length', Buffer.byteLength(body));
		res.end(body);
	});
});

// CONNECT and Upgrade requests are complete messages to llhttp: count them, then drop
// the connection (what follows is no longer HTTP to llhttp).
function tunnel(req, socket) {
	const st = stateOf(socket);
	st.dispatched++;
	st.reqs.push({ complete: true });
	socket.destroy();
}
server.on('connect', tunnel);
server.on('upgrade', tunnel);

server.on('clientError', (err, socket) => {
	const st = stateOf(socket);
	if (st && !st.error) st.error = err.code || String(err.message);
	if (socket.writable && !socket.destroyed) {
		socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
	} else {
		socket.destroy();
	}
});

server.listen(0, '127.0.0.1', () => {
	process.stdout.write(JSON.stringify({ listening: server.address().port }) + '\n');
});
process.on('SIGTERM', () => process.exit(0));
process.stdin.on('end', () => process.exit(0)); // the driver went away
process.stdin.resume();
