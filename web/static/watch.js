// watch.js: the watch page, /watch/{id}. It loads the media from the API,
// starts the player as soon as there is something to play (while the media
// is still processing, too), shows the playback URL and an embed snippet to
// copy, and deletes the media after a confirmation.
import { api, fmtDuration, renditionLabel, statusText, copyText } from './common.js';
import { createPlayer } from './player.js';

const main = document.getElementById('main');
const id = main.dataset.id;
const message = document.getElementById('message');
const area = document.getElementById('player-area');
const titleEl = document.getElementById('title');
const metaEl = document.getElementById('meta');
const visibility = document.getElementById('visibility');

let media = null;
let player = null;
let starting = false;
let playback = null; // {url, poster, token, expires}: where the player plays from

function showMessage(text, info = false) {
  message.textContent = text;
  message.classList.toggle('info', info);
  message.hidden = !text;
}

function describe(m) {
  const parts = [m.kind === 'audio' ? 'Audio' : m.kind === 'video' ? 'Video' : ''];
  const d = fmtDuration(m.duration);
  if (d) parts.push(d);
  if (m.status !== 'ready') parts.push(statusText(m));
  const names = (m.renditions || []).filter((r) => r.kind !== 'audio' || m.kind === 'audio').map(renditionLabel);
  if (names.length) parts.push(names.join(', '));
  return parts.filter(Boolean).join(' · ');
}

function render(m) {
  media = m;
  document.title = `${m.title} · hlsd`;
  titleEl.textContent = m.title;
  metaEl.textContent = describe(m);
  visibility.value = m.visibility === 'signed' ? 'signed' : 'public';
  renderShare(m);

  if (m.status === 'failed') {
    showMessage(m.error ? `Processing failed: ${m.error}` : 'Processing failed.');
    return;
  }
  if (m.status === 'queued') {
    showMessage('Waiting to be processed… playback starts as soon as the first segments are ready.', true);
    return;
  }
  if (message.classList.contains('info')) showMessage('');
  if (!player && !starting) startPlayer(m);
}

// playbackFor returns where m plays from: its public URL, or for signed
// media a URL with a fresh playback token (the API signs one for us).
async function playbackFor(m) {
  const url = m.playback_url || `/hls/${m.id}/master.m3u8`;
  if (m.visibility !== 'signed') return { url, poster: m.poster_url || '', token: '', expires: null };
  const t = await api(`/media/${encodeURIComponent(m.id)}/playback-tokens`, { method: 'POST' });
  return {
    url: t.playback_url,
    poster: m.poster_url ? t.playback_url.replace(/master\.m3u8$/, 'poster.jpg') : '',
    token: t.token,
    expires: new Date(t.expires_at),
  };
}

// renderShare fills the playback URL and embed code: the public ones, or
// for signed media ones carrying the token, which say when they expire.
function renderShare(m) {
  const signed = m.visibility === 'signed';
  const urlLabel = document.querySelector('label[for=playback-url]');
  const embedLabel = document.querySelector('label[for=embed-code]');
  const until = playback && playback.expires ? ` (expires ${playback.expires.toLocaleString()})` : '';
  urlLabel.textContent = signed ? `Signed playback URL${until}` : 'Playback URL (HLS)';
  embedLabel.textContent = signed ? `Embed code${until}` : 'Embed code';
  if (signed && !playback) {
    document.getElementById('playback-url').value = '';
    document.getElementById('embed-code').value = '';
    return;
  }
  const src = signed ? playback.url : m.playback_url || `/hls/${m.id}/master.m3u8`;
  document.getElementById('playback-url').value = new URL(src, location.href).href;
  const embed = new URL(`/embed/${m.id}`, location.href);
  if (signed) embed.searchParams.set('token', playback.token);
  const ratio = m.kind === 'audio' ? 'width="480" height="200"' : 'width="640" height="360"';
  document.getElementById('embed-code').value =
    `<iframe src="${embed.href}" ${ratio} title="${m.title.replace(/[&"<>]/g, (c) => ({ '&': '&amp;', '"': '&quot;', '<': '&lt;', '>': '&gt;' }[c]))}" allow="autoplay; fullscreen; picture-in-picture" allowfullscreen style="border:0"></iframe>`;
}

async function startPlayer(m) {
  starting = true;
  try {
    playback = await playbackFor(m);
  } catch (err) {
    showMessage(`Cannot play this signed media: ${err.message}`);
    return;
  } finally {
    starting = false;
  }
  renderShare(media);
  if (!player) {
    player = createPlayer(area, {
      src: playback.url,
      kind: m.kind === 'audio' ? 'audio' : 'video',
      // The poster is made at the end of processing.
      poster: m.status === 'ready' ? playback.poster : '',
      title: m.title,
      keyboard: true,
      fromStart: m.status !== 'ready',
      // While processing, the playlist may not be published yet.
      shouldRetry: () => media && (media.status === 'processing' || media.status === 'queued'),
      onError: (msg) => showMessage(msg),
    });
  }
}

async function refresh() {
  try {
    render(await api(`/media/${encodeURIComponent(id)}`));
  } catch (err) {
    if (err.status === 404) {
      titleEl.textContent = 'Not found';
      showMessage('This media does not exist (it may have been deleted).');
      document.querySelector('.share').hidden = true;
      document.getElementById('delete').hidden = true;
      return false;
    }
    showMessage(err.message);
  }
  return media && (media.status === 'queued' || media.status === 'processing');
}

async function poll() {
  if (await refresh()) setTimeout(poll, 1000);
}
poll();

// Copy buttons.
const copyStatus = document.getElementById('copy-status');
for (const b of document.querySelectorAll('[data-copy]')) {
  b.addEventListener('click', async () => {
    const field = document.getElementById(b.dataset.copy);
    const ok = await copyText(field);
    const label = field.labels && field.labels[0] ? field.labels[0].textContent : 'Text';
    copyStatus.textContent = ok ? `${label} copied.` : 'Copy failed: select the text and copy it yourself.';
  });
}

// Visibility: public (anyone with the link) or signed (links with a token
// that expires). The player restarts with the matching URL.
visibility.addEventListener('change', async () => {
  visibility.disabled = true;
  try {
    await api(`/media/${encodeURIComponent(id)}`, { method: 'PATCH', body: { visibility: visibility.value } });
    location.reload();
  } catch (err) {
    showMessage(`Could not change who can play it: ${err.message}`);
    visibility.value = media && media.visibility === 'signed' ? 'signed' : 'public';
    visibility.disabled = false;
  }
});

// Delete with confirmation.
// The button is disabled in the page until this script has loaded, so an
// early click on a slow connection is never silently lost.
const dialog = document.getElementById('confirm-delete');
const deleteError = document.getElementById('delete-error');
const deleteButton = document.getElementById('delete');
deleteButton.addEventListener('click', () => {
  deleteError.hidden = true;
  document.getElementById('confirm-h').textContent = media ? `Delete “${media.title}”?` : 'Delete this media?';
  dialog.showModal();
});
deleteButton.disabled = false;
document.getElementById('confirm-delete-button').addEventListener('click', async (e) => {
  e.preventDefault(); // keep the dialog open until the server answered
  const button = e.currentTarget;
  button.disabled = true;
  try {
    await api(`/media/${encodeURIComponent(id)}`, { method: 'DELETE' });
    if (player && player.hls) player.hls.destroy();
    location.assign('/?deleted=' + encodeURIComponent(media ? media.title : id));
  } catch (err) {
    deleteError.textContent = `Could not delete: ${err.message}`;
    deleteError.hidden = false;
    button.disabled = false;
  }
});
