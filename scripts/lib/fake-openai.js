'use strict';

// A scripted stand-in for OpenAI's Chat Completions API, for n8n's OpenAI Chat Model node (its
// credential's Base URL pointed here). It plays a model that uses one tool: the first completion
// of a conversation calls the tool the agent offers, with the arguments given to `reset()`; once
// the conversation holds a tool result, it answers with a final text that quotes the result.
// Every request is recorded, so a check can read what the agent passed back to the model.
// Node built-ins only.
// Only POST /v1/chat/completions and GET /v1/models: the model node must not use the Responses
// API (OpenAI Chat Model 1.2, or 1.3 with "Use Responses API" off). n8n 1.123.81 run headless
// (`n8n execute`) asks with `stream: false` and never lists models; a streaming request (an agent
// answering a chat trigger in streaming mode) is answered with server-sent events.

const http = require('node:http');

const MODEL_ID = 'gpt-4o-mini';
// The OpenAI credential of the e2e workflows' chat model (fixed id: the workflows refer to it).
const CREDENTIAL = { id: 'vibeFakeOpenAi01', name: 'Scripted model (fake OpenAI, e2e)' };
const API_KEY = 'sk-DUMMY-vibecode-e2e';
const JSON_TYPE = 'application/json; charset=utf-8';
const USAGE = { prompt_tokens: 10, completion_tokens: 10, total_tokens: 20 };

/** The tool result messages of a chat completion request (role "tool"). */
const toolMessagesOf = (body) => (body?.messages ?? []).filter((m) => m.role === 'tool');

/** A message's text: a string, or OpenAI's array of text parts. */
function textOf(content) {
	if (typeof content === 'string') return content;
	if (Array.isArray(content)) return content.map((part) => (typeof part === 'string' ? part : (part?.text ?? ''))).join('');
	return '';
}

class FakeOpenAi {
	#server;
	#sockets = new Set();
	#seq = 0;
	#toolArguments = {};

	constructor() {
		/** `{ method, path, headers, body }` of every request, in arrival order. */
		this.requests = [];
		this.#server = http.createServer((req, res) => this.#onRequest(req, res));
		this.#server.on('connection', (socket) => {
			this.#sockets.add(socket);
			socket.once('close', () => this.#sockets.delete(socket));
		});
	}

	/** Listens on the loopback interface; `url` is then the Base URL for the credential (…/v1). */
	async listen(port = 0, host = '127.0.0.1') {
		await new Promise((resolve, reject) => {
			this.#server.once('error', reject);
			this.#server.listen(port, host, () => {
				this.#server.off('error', reject);
				resolve();
			});
		});
		this.url = `http://${host}:${this.#server.address().port}/v1`;
		return this;
	}

	close() {
		const closed = new Promise((resolve) => this.#server.close(resolve));
		for (const socket of this.#sockets) socket.destroy();
		return closed;
	}

	/** The OpenAI credential pointing at this server, in the shape `n8n import:credentials` takes. */
	get credential() {
		return { ...CREDENTIAL, type: 'openAiApi', data: { apiKey: API_KEY, url: this.url } };
	}

	/** Forgets the requests; the next conversation calls the tool with `toolArguments`. */
	reset({ toolArguments = {} } = {}) {
		this.requests.length = 0;
		this.#toolArguments = toolArguments;
	}

	/** The chat completion requests, in order. */
	get completions() {
		return this.requests.filter((r) => r.method === 'POST' && r.path === '/v1/chat/completions');
	}

	/** The tool results the agent passed back to the model, parsed where they are JSON. */
	get toolResults() {
		const last = this.completions.at(-1);
		return toolMessagesOf(last?.body).map((m) => {
			const text = textOf(m.content);
			try {
				return { text, json: JSON.parse(text) };
			} catch {
				return { text, json: undefined };
			}
		});
	}

	async #onRequest(req, res) {
		const body = await readJson(req);
		const path = req.url.split('?')[0];
		this.requests.push({ id: ++this.#seq, method: req.method, path, headers: req.headers, body });
		if (req.method === 'GET' && path === '/v1/models') {
			return send(res, 200, { object: 'list', data: [{ id: MODEL_ID, object: 'model', created: 0, owned_by: 'vibecode-e2e' }] });
		}
		if (req.method !== 'POST' || path !== '/v1/chat/completions') {
			return send(res, 404, { error: { message: `The fake model does not serve ${req.method} ${path}`, type: 'invalid_request_error' } });
		}
		if (body === undefined) return send(res, 400, { error: { message: 'The body is not JSON', type: 'invalid_request_error' } });
		const message = this.#reply(body);
		if (body.stream) return sendStream(res, this.#seq, body, message);
		const finishReason = message.tool_calls ? 'tool_calls' : 'stop';
		return send(res, 200, {
			id: `chatcmpl-${this.#seq}`,
			object: 'chat.completion',
			created: Math.floor(Date.now() / 1000),
			model: body.model ?? MODEL_ID,
			choices: [{ index: 0, message, logprobs: null, finish_reason: finishReason }],
			usage: USAGE,
		});
	}

	/** The scripted turn: call the tool, or, once there is a tool result, say what it was. */
	#reply(body) {
		const results = toolMessagesOf(body);
		if (results.length > 0) {
			return { role: 'assistant', content: `The tool answered: ${results.map((m) => textOf(m.content)).join('\n')}`, refusal: null };
		}
		const tools = (body.tools ?? []).filter((t) => t.type === 'function');
		if (tools.length !== 1) return { role: 'assistant', content: `Offered ${tools.length} tools, expected one.`, refusal: null };
		const [tool] = tools;
		return {
			role: 'assistant',
			content: null,
			refusal: null,
			tool_calls: [
				{
					id: `call_${this.#seq}`,
					type: 'function',
					function: { name: tool.function.name, arguments: JSON.stringify(this.#toolArguments) },
				},
			],
		};
	}
}

function readJson(req) {
	return new Promise((resolve) => {
		const chunks = [];
		req.on('data', (c) => chunks.push(c));
		req.once('end', () => {
			const text = Buffer.concat(chunks).toString('utf8');
			if (text === '') return resolve(null);
			try {
				resolve(JSON.parse(text));
			} catch {
				resolve(undefined);
			}
		});
		req.once('error', () => resolve(undefined));
	});
}

function send(res, status, body) {
	const buf = Buffer.from(JSON.stringify(body), 'utf8');
	res.writeHead(status, { 'Content-Type': JSON_TYPE, 'Content-Length': buf.length }).end(buf);
}

/** The same turn as server-sent chunks, the way OpenAI streams: role, content or tool call, finish, [DONE]. */
function sendStream(res, seq, body, message) {
	const created = Math.floor(Date.now() / 1000);
	const base = { id: `chatcmpl-${seq}`, object: 'chat.completion.chunk', created, model: body.model ?? MODEL_ID };
	const chunk = (delta, finishReason = null) => ({
		...base,
		choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
	});
	const chunks = [];
	if (message.tool_calls) {
		const [{ id, function: call }] = message.tool_calls;
		const head = { index: 0, id, type: 'function', function: { name: call.name, arguments: '' } };
		chunks.push(chunk({ role: 'assistant', content: null, tool_calls: [head] }));
		chunks.push(chunk({ tool_calls: [{ index: 0, function: { arguments: call.arguments } }] }));
		chunks.push(chunk({}, 'tool_calls'));
	} else {
		chunks.push(chunk({ role: 'assistant', content: '' }));
		chunks.push(chunk({ content: message.content }));
		chunks.push(chunk({}, 'stop'));
	}
	if (body.stream_options?.include_usage) chunks.push({ ...base, choices: [], usage: USAGE });
	res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-cache' });
	res.end(`${chunks.map((c) => `data: ${JSON.stringify(c)}\n\n`).join('')}data: [DONE]\n\n`);
}

/** Starts a scripted model on a free port (or `port`). */
function startFakeOpenAi(port = 0) {
	return new FakeOpenAi().listen(port);
}

module.exports = { startFakeOpenAi, API_KEY };
