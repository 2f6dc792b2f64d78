// library.js: the library page, /. It shows the media as a grid (newest
// first, searchable by title), refreshes while anything is processing so
// progress bars move, and uploads files dropped on the page or picked with
// the file input, resumably, with tus-js-client.
import { api, h, svgIcon, fmtDuration, fmtDurationLong, fmtBytes, statusText, ApiError } from './common.js';

/* global tus */

const PAGE = 48;           // media per page
const POLL_MS = 1000;      // refresh interval while something is processing

const grid = document.getElementById('grid');
const empty = document.getElementById('empty');
const noMatch = document.getElementById('no-match');
const more = document.getElementById('more');
const statusLine = document.getElementById('status');
const q = document.getElementById('q');

const state = {
  items: [],         // media in display order
  cursor: '',        // next_cursor of the last page loaded
  query: '',
  timer: 0,
  loading: null,     // AbortController of the request in flight
  activeUploads: 0,
  busy: 0,           // media queued or processing at the last render
};
window.hlsdLibrary = state; // for tests and debugging

// ---------------------------------------------------------------- grid

function card(m) {
  const href = `/watch/${encodeURIComponent(m.id)}`;
  const dur = fmtDuration(m.duration);
  const thumb = h('a', { class: 'thumb' + (m.kind === 'audio' ? ' audio' : ''), href, tabindex: '-1', 'aria-hidden': 'true' });
  // A signed media's poster needs a playback token too: the card shows the
  // icon rather than mint a token per card.
  if (m.poster_url && m.status === 'ready' && m.visibility !== 'signed') {
    const img = h('img', { src: m.poster_url, alt: '', loading: 'lazy', decoding: 'async' });
    img.addEventListener('error', () => img.replaceWith(h('span', { class: 'icon' }, svgIcon(m.kind === 'audio' ? 'music' : 'film'))));
    thumb.append(img);
  } else {
    thumb.append(h('span', { class: 'icon' }, svgIcon(m.kind === 'audio' ? 'music' : 'film')));
  }
  if (dur) thumb.append(h('span', { class: 'badge' }, dur));
  if (m.visibility === 'signed') thumb.append(h('span', { class: 'badge private' }, 'Signed'));

  const body = h('div', { class: 'card-body' },
    h('h3', {}, h('a', { href, 'aria-describedby': `st-${m.id}` }, m.title)),
    h('span', { class: `status ${m.status}`, id: `st-${m.id}` },
      statusText(m), dur ? h('span', { class: 'visually-hidden' }, `, ${m.kind === 'audio' ? 'audio' : 'video'}, ${fmtDurationLong(m.duration)}`) : null,
      m.visibility === 'signed' ? h('span', { class: 'visually-hidden' }, ', plays only with a signed link') : null));
  if (m.status === 'processing' || m.status === 'queued') {
    const p = h('progress', { max: '1', 'aria-label': `Processing ${m.title}` });
    if (m.status === 'processing') p.value = m.progress || 0; // queued: indeterminate
    body.append(p);
  }
  if (m.status === 'failed') {
    body.append(h('p', { class: 'card-error' }, m.error || 'Processing failed.'));
    body.append(h('div', { class: 'card-actions' },
      h('button', { type: 'button', class: 'button small', onclick: () => reprocess(m) }, 'Try again')));
  }
  return h('article', { class: 'media-card', 'data-id': m.id, 'data-status': m.status }, thumb, body);
}

function render() {
  grid.setAttribute('aria-busy', 'false');
  // Replace cards whose media changed, keep the others (and their images).
  const old = new Map([...grid.children].map((el) => [el.dataset.id, el]));
  const els = state.items.map((m) => {
    const key = JSON.stringify([m.title, m.status, m.progress, m.error, m.duration, m.kind, m.poster_url, m.visibility]);
    const el = old.get(m.id);
    if (el && el.dataset.key === key) return el;
    const c = card(m);
    c.dataset.key = key;
    return c;
  });
  if (els.length !== grid.children.length || els.some((el, i) => grid.children[i] !== el)) {
    // Keep focus on the same element when a card is rebuilt.
    const focused = document.activeElement;
    const focusId = focused && focused.closest && focused.closest('.media-card') ? focused.closest('.media-card').dataset.id : null;
    grid.replaceChildren(...els);
    if (focusId) {
      const link = grid.querySelector(`[data-id="${CSS.escape(focusId)}"] h3 a`);
      if (link && document.activeElement !== link) link.focus();
    }
  }
  empty.hidden = !(state.items.length === 0 && !state.query);
  noMatch.hidden = !(state.items.length === 0 && state.query);
  noMatch.textContent = state.query ? `No media has “${state.query}” in its title.` : '';
  more.hidden = !state.cursor;
  // The status line tells how many are processing when that changes, and
  // otherwise keeps its last message (uploaded, deleted, failed).
  const busy = state.items.filter((m) => m.status === 'processing' || m.status === 'queued').length;
  if (busy !== state.busy) {
    if (busy) statusLine.textContent = `${busy} processing…`;
    else if (state.busy) statusLine.textContent = 'All media processed.';
    state.busy = busy;
  }
}

function params(limit, cursor) {
  const p = new URLSearchParams({ limit: String(limit) });
  if (state.query) p.set('q', state.query);
  if (cursor) p.set('cursor', cursor);
  return p;
}

// load fetches the first page again (newest first), as many items as are
// shown (so a refresh keeps "Show more" pages), and renders it.
async function load() {
  if (state.loading) state.loading.abort();
  const ac = state.loading = new AbortController();
  const limit = Math.min(100, Math.max(PAGE, state.items.length));
  try {
    const page = await api('/media?' + params(limit), { signal: ac.signal });
    state.items = page.data || [];
    state.cursor = page.next_cursor || '';
    render();
  } catch (err) {
    if (err.name === 'AbortError') return;
    statusLine.textContent = err instanceof ApiError ? err.message : String(err);
  } finally {
    if (state.loading === ac) state.loading = null;
  }
  schedule();
}

async function loadMore() {
  more.disabled = true;
  try {
    const page = await api('/media?' + params(PAGE, state.cursor));
    const have = new Set(state.items.map((m) => m.id));
    state.items.push(...(page.data || []).filter((m) => !have.has(m.id)));
    state.cursor = page.next_cursor || '';
    render();
  } catch (err) {
    statusLine.textContent = err.message;
  } finally {
    more.disabled = false;
  }
}

// schedule polls while something is queued or processing. (A running
// upload needs no polling: its media appears when it completes, and the
// upload's success handler reloads.)
function schedule() {
  clearTimeout(state.timer);
  const busy = state.items.some((m) => m.status === 'processing' || m.status === 'queued');
  if (busy) state.timer = setTimeout(load, POLL_MS);
}

async function reprocess(m) {
  try {
    await api(`/media/${encodeURIComponent(m.id)}/reprocess`, { method: 'POST' });
  } catch (err) {
    statusLine.textContent = `Could not retry “${m.title}”: ${err.message}`;
  }
  load();
}

more.addEventListener('click', loadMore);
let searchTimer = 0;
q.addEventListener('input', () => {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(() => {
    state.query = q.value.trim();
    state.items = [];
    load();
  }, 250);
});
document.getElementById('search-form').addEventListener('submit', (e) => {
  e.preventDefault();
  clearTimeout(searchTimer);
  state.query = q.value.trim();
  state.items = [];
  load();
});

const deleted = new URLSearchParams(location.search).get('deleted');
if (deleted) {
  statusLine.textContent = `Deleted “${deleted}”.`;
  history.replaceState(null, '', '/');
}
load();

// ---------------------------------------------------------------- upload

const uploadsSection = document.getElementById('uploads');
const uploadList = document.getElementById('upload-list');
const fileInput = document.getElementById('file');

fileInput.addEventListener('change', () => {
  addFiles(fileInput.files);
  fileInput.value = '';
});

// Drag and drop anywhere on the page.
const drop = document.getElementById('drop');
let dragDepth = 0;
const hasFiles = (e) => e.dataTransfer && [...e.dataTransfer.types].includes('Files');
document.addEventListener('dragenter', (e) => {
  if (!hasFiles(e)) return;
  e.preventDefault();
  dragDepth++;
  drop.hidden = false;
});
document.addEventListener('dragover', (e) => {
  if (!hasFiles(e)) return;
  e.preventDefault();
  e.dataTransfer.dropEffect = 'copy';
});
document.addEventListener('dragleave', (e) => {
  if (!hasFiles(e)) return;
  if (--dragDepth <= 0) { dragDepth = 0; drop.hidden = true; }
});
document.addEventListener('drop', (e) => {
  if (!hasFiles(e)) return;
  e.preventDefault();
  dragDepth = 0;
  drop.hidden = true;
  addFiles(e.dataTransfer.files);
});

function addFiles(files) {
  for (const f of files) startUpload(f);
}

// uploadError turns a tus-js-client error into one sentence: the server's
// own message when it sent a JSON error, else what went wrong.
function uploadError(err) {
  const res = err && err.originalResponse;
  if (res) {
    try {
      const j = JSON.parse(res.getBody());
      if (j && j.error && j.error.message) return j.error.message;
    } catch { /* not JSON */ }
    const body = (res.getBody() || '').trim();
    if (body && body.length < 300) return body;
    return `The server answered ${res.getStatus()}.`;
  }
  if (err && /NetworkError|network|failed to fetch/i.test(String(err.message))) return 'The connection to the server was lost.';
  return (err && err.message) || String(err);
}

function fmtLeft(sec) {
  if (!Number.isFinite(sec) || sec < 0) return '';
  if (sec < 60) return `${Math.max(1, Math.round(sec))} s left`;
  if (sec < 3600) return `${Math.round(sec / 60)} min left`;
  return `${(sec / 3600).toFixed(1)} h left`;
}

function startUpload(file) {
  uploadsSection.hidden = false;
  const progress = h('progress', { max: '1', value: '0', 'aria-label': `Uploading ${file.name}` });
  // Not a live region: it changes several times a second. Screen readers
  // hear the start and the end through the page's status line instead.
  const info = h('span', { class: 'info' }, `Waiting · ${fmtBytes(file.size)}`);
  const cancel = h('button', { type: 'button', class: 'button small' }, 'Cancel');
  cancel.setAttribute('aria-label', `Cancel upload of ${file.name}`);
  const row = h('li', { class: 'upload', 'data-name': file.name }, h('span', { class: 'name' }, file.name), cancel, progress, info);
  uploadList.append(row);

  let mediaId = '';
  let last = { t: performance.now(), bytes: 0 };
  let speed = 0; // bytes per second, smoothed
  let lastText = 0;
  let finished = false;
  const finish = () => {
    if (finished) return;
    finished = true;
    state.activeUploads--;
  };
  state.activeUploads++;
  statusLine.textContent = `Uploading ${file.name}…`;

  const upload = new tus.Upload(file, {
    endpoint: '/api/v1/uploads/',
    retryDelays: [0, 1000, 3000, 5000, 10000],
    chunkSize: 64 << 20, // several requests for big files: a cut connection loses little
    metadata: { filename: file.name, filetype: file.type || 'application/octet-stream' },
    removeFingerprintOnSuccess: true,
    onAfterResponse: (req, res) => {
      const idHeader = res.getHeader('Hlsd-Media-Id');
      if (idHeader) mediaId = idHeader;
    },
    onProgress: (sent, total) => {
      const t = performance.now();
      const dt = (t - last.t) / 1000;
      if (dt >= 0.25) {
        const rate = (sent - last.bytes) / dt;
        speed = speed ? speed * 0.7 + rate * 0.3 : rate;
        last = { t, bytes: sent };
      }
      progress.value = total ? sent / total : 0;
      if (t - lastText > 250 || sent === total) {
        lastText = t;
        const pct = total ? Math.floor((sent / total) * 100) : 0;
        const parts = [`${pct}%`, `${fmtBytes(sent)} of ${fmtBytes(total)}`];
        if (speed > 0) parts.push(`${fmtBytes(speed)}/s`, fmtLeft((total - sent) / speed));
        info.textContent = parts.filter(Boolean).join(' · ');
      }
    },
    onSuccess: () => {
      finish();
      row.classList.add('done');
      progress.value = 1;
      info.textContent = 'Uploaded · processing';
      statusLine.textContent = `Uploaded ${file.name}.`;
      cancel.remove();
      if (mediaId) {
        row.querySelector('.name').replaceChildren(h('a', { href: `/watch/${encodeURIComponent(mediaId)}` }, file.name));
      }
      load();
      setTimeout(() => {
        row.remove();
        if (!uploadList.children.length) uploadsSection.hidden = true;
      }, 4000);
    },
    onError: (err) => {
      finish();
      row.classList.add('failed');
      info.textContent = `Upload failed: ${uploadError(err)}`;
      statusLine.textContent = `Upload of ${file.name} failed.`;
      cancel.textContent = 'Dismiss';
      cancel.setAttribute('aria-label', `Dismiss ${file.name}`);
      cancel.onclick = () => {
        row.remove();
        if (!uploadList.children.length) uploadsSection.hidden = true;
      };
    },
  });

  cancel.onclick = () => {
    // abort(true) also asks the server to drop what it received.
    upload.abort(true).catch(() => {});
    finish();
    statusLine.textContent = `Upload of ${file.name} cancelled.`;
    row.remove();
    if (!uploadList.children.length) uploadsSection.hidden = true;
  };

  // Resume an earlier upload of the same file (same name, size, type and
  // modification time), e.g. after the page was closed mid-way.
  upload.findPreviousUploads().then((previous) => {
    if (previous.length) upload.resumeFromPreviousUpload(previous[0]);
    if (!finished) upload.start();
  });
  schedule();
}
