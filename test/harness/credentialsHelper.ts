import {
	ICredentialsHelper,
	type ICredentialDataDecryptedObject,
	type ICredentials,
	type ICredentialType,
	type IHttpRequestOptions,
	type INodeProperties,
} from 'n8n-workflow';

/**
 * The part of n8n's CredentialsHelper (packages/cli) that a node run touches: it hands out
 * the credential with its defaults applied and lets the credential type sign each request.
 */
export class CredentialsHelper extends ICredentialsHelper {
	/** `data` is every node's credential, or a credential per id (nodes' `credentials.<type>.id`). */
	constructor(
		private readonly type: ICredentialType,
		private data: ICredentialDataDecryptedObject,
		private readonly byId: Record<string, ICredentialDataDecryptedObject> = {},
	) {
		super();
	}

	setData(data: ICredentialDataDecryptedObject) {
		this.data = data;
	}

	getParentTypes(): string[] {
		return [];
	}

	isCredentialUsableByNode(): boolean {
		return true;
	}

	async authenticate(
		credentials: ICredentialDataDecryptedObject,
		_typeName: string,
		requestOptions: IHttpRequestOptions,
	): Promise<IHttpRequestOptions> {
		const { authenticate } = this.type;
		if (typeof authenticate !== 'function') throw new Error('expected an authenticate function');
		return await authenticate(credentials, requestOptions);
	}

	async preAuthentication() {
		return undefined;
	}

	async runPreAuthentication() {
		return undefined;
	}

	async getCredentials(): Promise<ICredentials> {
		throw new Error('not used by this package');
	}

	async getDecrypted(_additionalData?: unknown, nodeCredentials?: { id: string | null }): Promise<ICredentialDataDecryptedObject> {
		const data = (nodeCredentials?.id && this.byId[nodeCredentials.id]) || this.data;
		const withDefaults: ICredentialDataDecryptedObject = {};
		for (const property of this.type.properties) {
			withDefaults[property.name] = data[property.name] ?? (property.default as string);
		}
		return withDefaults;
	}

	async updateCredentials() {}

	async updateCredentialsOauthTokenData() {}

	getCredentialsProperties(): INodeProperties[] {
		return this.type.properties;
	}
}
