/**
 * The web console as the node serves it: the built page and its hashed assets (see
 * scripts/build_console.ts). The other files of this folder are the page's source, which runs in
 * the browser; the server never imports them.
 * @module
 */
export { ASSETS, type ConsoleAsset, INDEX_HTML } from "./gen/assets.ts";
