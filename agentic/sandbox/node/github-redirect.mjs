// Node preload: send @modelcontextprotocol/server-github's requests to GITHUB_API_URL instead of GitHub.
//
// Why: that server hard-codes "https://api.github.com" in every URL and calls Node's global fetch; it has no
// base-URL setting. Loaded with `NODE_OPTIONS=--import /abs/path/github-redirect.mjs`, this module wraps
// globalThis.fetch and rewrites that one origin (and nothing else) to $GITHUB_API_URL, keeping path and query.
const target = process.env.GITHUB_API_URL;
const GITHUB = "https://api.github.com";

if (target && globalThis.fetch && !globalThis.fetch.__githubRedirect) {
  const base = target.replace(/\/+$/, "");
  const original = globalThis.fetch;
  const rewrite = (url) => {
    // Only the exact origin: "https://api.github.com.evil" or "https://api.github.community" stay untouched.
    if (url === GITHUB || url.startsWith(GITHUB + "/") || url.startsWith(GITHUB + "?")) {
      return base + url.slice(GITHUB.length);
    }
    return null;
  };
  const redirected = function fetch(input, init) {
    if (typeof input === "string" || input instanceof URL) {
      const moved = rewrite(String(input));
      return original(moved ?? input, init);
    }
    if (input instanceof Request) {
      const moved = rewrite(input.url);
      return original(moved ? new Request(moved, input) : input, init);
    }
    return original(input, init);
  };
  redirected.__githubRedirect = true;
  globalThis.fetch = redirected;
}
