const { src, dest } = require('gulp');

// `n8n-node build` compiles the TypeScript and copies the icons, but not the codex file
// (*.node.json: the node's categories and links in n8n's nodes panel), which n8n reads from
// beside the built node.
function buildCodex() {
	return src('nodes/**/*.node.json', { base: '.' }).pipe(dest('dist'));
}

exports['build:codex'] = buildCodex;
