// n8n's community-node lint rules, wired as @n8n/node-cli wires them in its ESLint config
// (`@n8n/node-cli/eslint`, dist/configs/eslint.js of @n8n/node-cli 0.48.3). The config is
// replicated here with the plugins themselves instead of depending on @n8n/node-cli, which
// would also install its scaffolding CLI (oclif, ts-morph, prettier, the AI node SDK, …).
// Differences from that config are marked "differs:".
//
// differs: without eslint-plugin-import-x and its TypeScript resolver. They are generic
// import checks, not part of n8n's verification (the scanner does not use them; tsc already
// fails on an unresolved import), and they pull in the native unrs-resolver, whose platform
// builds are optional dependencies: a registry that lacks some of them leaves them out of
// package-lock.json and `npm ci` then refuses the lockfile.
import js from '@eslint/js';
import { n8nCommunityNodesPlugin } from '@n8n/eslint-plugin-community-nodes';
import { globalIgnores } from 'eslint/config';
import n8nNodesBase from 'eslint-plugin-n8n-nodes-base';
import tseslint from 'typescript-eslint';

// The cloud-ready set (no-restricted-globals, no-restricted-imports): what n8n's
// verification requires.
const communityNodesRecommended = n8nCommunityNodesPlugin.configs.recommended;

export default tseslint.config(
	// differs: node-cli ignores only dist; this repo also holds test and dev tooling that
	// is not shipped (`npm run lint` lints nodes/, credentials/ and package.json).
	globalIgnores(['dist', 'node_modules', 'tools', 'test', 'scripts', 'examples', 'coverage']),
	{
		files: ['**/*.ts'],
		extends: [
			js.configs.recommended,
			tseslint.configs.recommended,
			communityNodesRecommended,
		],
		rules: {
			'prefer-spread': 'off', // as in node-cli: n8n code calls functions with `.apply(this, …)`
			'no-console': 'error',
		},
	},
	{
		plugins: { 'n8n-nodes-base': n8nNodesBase },
	},
	{
		files: ['package.json'],
		extends: [communityNodesRecommended],
		rules: {
			...n8nNodesBase.configs.community.rules,
		},
		languageOptions: {
			parser: tseslint.parser,
			parserOptions: {
				extraFileExtensions: ['.json'],
			},
		},
	},
	{
		files: ['credentials/**/*.ts'],
		rules: {
			...n8nNodesBase.configs.credentials.rules,
			// as in node-cli: the rule wants the n8n docs' URL style, not valid for community nodes
			'n8n-nodes-base/cred-class-field-documentation-url-miscased': 'off',
			// as in node-cli: @n8n/community-nodes/credential-password-field checks this more accurately
			'n8n-nodes-base/cred-class-field-type-options-password-missing': 'off',
		},
	},
	{
		files: ['nodes/**/*.ts'],
		rules: {
			...n8nNodesBase.configs.nodes.rules,
			// as in node-cli: inputs/outputs may be NodeConnectionTypes.Main instead of "main"
			'n8n-nodes-base/node-class-description-inputs-wrong-regular-node': 'off',
			'n8n-nodes-base/node-class-description-outputs-wrong': 'off',
			// as in node-cli: a third-party API may have a real maximum, so maxValue is valid
			'n8n-nodes-base/node-param-type-options-max-value-present': 'off',
		},
	},
);
