// common.js: what every page of the hlsd UI shares: calls to the REST API
// with the session cookie, DOM building, and number formatting.

/** ApiError is a failed API call: status is the HTTP status, message the
 * server's own one-line explanation. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** api calls /api/v1 + path with the session cookie and returns the
 * decoded JSON (null for an empty answer). A 401 means the session ended:
 * the browser goes to the sign-in page. */
export async function api(path, { method = 'GET', body, signal } = {}) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res;
  try {
    res = await fetch('/api/v1' + path, {
      method, headers, signal, credentials: 'same-origin',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (err) {
    if (err.name === 'AbortError') throw err;
    throw new ApiError(0, 'network', 'The server cannot be reached. Check your connection.');
  }
  if (res.status === 401) {
    toLogin();
    throw new ApiError(401, 'unauthorized', 'Your session has ended. Please sign in again.');
  }
  const text = await res.text();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch { /* not JSON: fall through */ }
  }
  if (!res.ok) {
    const e = data && data.error;
    throw new ApiError(res.status, e ? e.code : 'http', (e && e.message) || `The server answered ${res.status} ${res.statusText}.`);
  }
  return data;
}

/** toLogin sends the browser to the sign-in page, coming back here after. */
export function toLogin() {
  location.assign('/login?next=' + encodeURIComponent(location.pathname + location.search));
}

/** h builds an element: h('a', {href: '/', class: 'x'}, 'text', child). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** svgIcon returns an inline <svg> using a symbol of icons.svg. */
export function svgIcon(name) {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('aria-hidden', 'true');
  const use = document.createElementNS(ns, 'use');
  use.setAttribute('href', assets() + '/icons.svg#' + name);
  svg.append(use);
  return svg;
}

/** assets is the content-hashed prefix of the UI's files ("/assets/HASH"),
 * read from the stylesheet link the server rendered. */
export function assets() {
  const link = document.querySelector('link[rel=stylesheet]');
  return new URL(link.href).pathname.replace(/\/app\.css$/, '');
}

/** fmtDuration formats seconds as m:ss or h:mm:ss. */
export function fmtDuration(sec) {
  if (!Number.isFinite(sec) || sec <= 0) return '';
  const s = Math.round(sec);
  const hh = Math.floor(s / 3600), mm = Math.floor((s % 3600) / 60), ss = s % 60;
  const p = (n) => String(n).padStart(2, '0');
  return hh > 0 ? `${hh}:${p(mm)}:${p(ss)}` : `${mm}:${p(ss)}`;
}

/** fmtDurationLong says a duration in words for screen readers. */
export function fmtDurationLong(sec) {
  if (!Number.isFinite(sec) || sec <= 0) return '';
  const s = Math.round(sec);
  const hh = Math.floor(s / 3600), mm = Math.floor((s % 3600) / 60), ss = s % 60;
  const parts = [];
  if (hh) parts.push(hh + (hh === 1 ? ' hour' : ' hours'));
  if (mm) parts.push(mm + (mm === 1 ? ' minute' : ' minutes'));
  if (ss || !parts.length) parts.push(ss + (ss === 1 ? ' second' : ' seconds'));
  return parts.join(' ');
}

/** fmtBytes formats a byte count (1000-based, as file managers do). */
export function fmtBytes(n) {
  if (!Number.isFinite(n)) return '';
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) { n /= 1000; i++; }
  return (i === 0 ? n : n.toFixed(n < 10 ? 1 : 0)) + ' ' + units[i];
}

/** fmtBitrate formats bits per second. */
export function fmtBitrate(bps) {
  if (!bps) return '';
  return bps >= 1e6 ? (bps / 1e6).toFixed(1) + ' Mb/s' : Math.round(bps / 1e3) + ' kb/s';
}

/** renditionLabel names a rendition for people: "720p" or "128 kb/s audio". */
export function renditionLabel(r) {
  if (r.height) return r.height + 'p';
  if (r.width) return r.width + 'w';
  return fmtBitrate(r.bandwidth) + (r.kind === 'audio' ? ' audio' : '');
}

/** statusText is what a media status reads as in the UI. */
export function statusText(m) {
  switch (m.status) {
    case 'queued': return 'Queued';
    case 'processing': return `Processing ${Math.floor((m.progress || 0) * 100)}%`;
    case 'ready': return 'Ready';
    case 'failed': return 'Failed';
    default: return m.status || '';
  }
}

/** copyText copies the value of an input or textarea; it works on plain
 * http:// LAN addresses too, where navigator.clipboard is unavailable. */
export async function copyText(field) {
  if (navigator.clipboard && window.isSecureContext) {
    try { await navigator.clipboard.writeText(field.value); return true; } catch { /* fall back */ }
  }
  field.focus();
  field.select();
  try { return document.execCommand('copy'); } catch { return false; }
}
