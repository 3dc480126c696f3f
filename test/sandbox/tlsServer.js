'use strict';

// A server behind a self-signed certificate (test/fixtures) that answers every request as a
// fire that worked, and counts the requests that got through the TLS handshake.

const fs = require('node:fs');
const https = require('node:https');
const path = require('node:path');

const fixture = (name) => fs.readFileSync(path.join(__dirname, '..', 'fixtures', name));

/** @returns {Promise<{ url: string, requests: { count: number }, close: () => Promise<void> }>} */
async function startTlsServer() {
	const requests = { count: 0 };
	const server = https.createServer({ key: fixture('selfsigned.key'), cert: fixture('selfsigned.crt') }, (_req, res) => {
		requests.count++;
		res.setHeader('Content-Type', 'application/json');
		res.end(JSON.stringify({ success: true, data: true }));
	});
	await new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(undefined)));
	return {
		url: `https://127.0.0.1:${/** @type {import('node:net').AddressInfo} */ (server.address()).port}`,
		requests,
		close: () => new Promise((resolve) => server.close(() => resolve())),
	};
}

module.exports = { startTlsServer };
