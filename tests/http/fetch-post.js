// fetch-post.js URL SIZE — POSTs a SIZE-byte JSON body with Node's fetch (undici), which
// sends the whole body before reading the answer, and prints "<status> <JSON error>" or
// "ERR <code or message>".
'use strict';
const [url, size] = [process.argv[2], Number(process.argv[3])];
const body = Buffer.alloc(size, 0x78);
body.write('{"pad":"', 0);
body.write('"}', size - 2);
fetch(url, { method: 'POST', body, headers: { 'content-type': 'application/json' } })
	.then(async (r) => {
		const text = await r.text();
		let word = '?';
		try {
			const doc = JSON.parse(text);
			word = doc.error || doc.status || '?';
		} catch (e) {}
		console.log(`${r.status} ${word}`);
	})
	.catch((e) => console.log(`ERR ${(e.cause && (e.cause.code || e.cause.message)) || e.message}`));
