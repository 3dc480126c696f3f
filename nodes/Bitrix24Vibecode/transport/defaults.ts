import type { IDataObject, IHttpRequestOptions } from 'n8n-workflow';

import { baseUrlOf } from './request';

/**
 * The request defaults n8n's declarative engine builds from the node's requestDefaults and its
 * "requestOptions" setting (timeout, proxy, SSL), for the requests the node sends itself.
 */
export function requestDefaultsOf(settings: IDataObject, credentials: IDataObject): IHttpRequestOptions {
	const request: IHttpRequestOptions = {
		url: '',
		baseURL: baseUrlOf(credentials),
		headers: { Accept: 'application/json', 'Content-Type': 'application/json' },
		timeout: Number(settings.timeout) || 300_000,
		skipSslCertificateValidation: settings.allowUnauthorizedCerts === true,
	};
	if (typeof settings.proxy === 'string' && settings.proxy) {
		const proxy = new URL(settings.proxy);
		request.proxy = {
			host: proxy.hostname,
			port: Number(proxy.port),
			protocol: proxy.protocol.replace(/:$/, ''),
			...(proxy.username && { auth: { username: decodeURIComponent(proxy.username), password: decodeURIComponent(proxy.password) } }),
		};
	}
	return request;
}
