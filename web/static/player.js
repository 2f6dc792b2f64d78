// player.js: the hlsd player used by the watch and embed pages. It plays a
// multivariant playlist with hls.js (Media Source Extensions), or natively
// where the browser plays HLS itself and hls.js cannot run (Safari on iOS),
// and adds what the native controls lack: a quality menu, a full-screen
// button for the whole player, and keyboard shortcuts.
//
// State for people and tests alike is kept in window.hlsdPlayer: the media
// element, the hls.js instance, the levels, the current level and every
// player error.
import { h, svgIcon, fmtBitrate } from './common.js';

/* global Hls */

const SEEK_STEP = 5; // seconds, for the arrow keys

/**
 * createPlayer builds a player in area.
 * @param {HTMLElement} area the container (it becomes the full-screen element)
 * @param {object} o
 * @param {string} o.src multivariant playlist URL
 * @param {'audio'|'video'} o.kind layout: a video element, or cover art and an audio element
 * @param {string} [o.poster] poster or cover image URL
 * @param {string} [o.title] shown in the audio layout and used as label
 * @param {boolean} [o.fromStart] the media is still being processed: play its
 *   growing (EVENT) playlist from the start, not from the live edge
 * @param {() => boolean} [o.shouldRetry] asked after a fatal network error
 *   (e.g. the playlist is not published yet): true retries in 2 s
 * @param {(msg: string) => void} [o.onError] shows a message to the user
 * @param {boolean} [o.keyboard] installs the page-wide keyboard shortcuts
 */
export function createPlayer(area, o) {
  const state = window.hlsdPlayer = {
    media: null, hls: null, native: false, levels: [], currentLevel: -1, autoLevel: true,
    errors: [], fatal: '', retries: 0,
  };
  area.replaceChildren();
  area.classList.toggle('is-audio', o.kind === 'audio');

  let media;
  if (o.kind === 'audio') {
    media = h('audio', { controls: true, preload: 'auto', 'aria-label': o.title ? `Play ${o.title}` : 'Audio player' });
    const cover = h('div', { class: 'cover' });
    if (o.poster) {
      const img = h('img', { src: o.poster, alt: o.title ? `Cover of ${o.title}` : 'Cover' });
      img.addEventListener('error', () => img.replaceWith(svgIcon('music')));
      cover.append(img);
    } else {
      cover.append(svgIcon('music'));
    }
    area.append(h('div', { class: 'audio-layout' }, cover,
      h('div', {}, h('p', { class: 'audio-title' }, o.title || ''), media)));
  } else {
    media = h('video', { controls: true, playsinline: true, preload: 'auto', poster: o.poster || undefined,
      'aria-label': o.title ? `Video: ${o.title}` : 'Video player' });
    area.append(media);
  }
  state.media = media;

  // The player bar: quality menu, what is playing now, full screen.
  const quality = h('select', { id: 'quality', disabled: true });
  quality.append(h('option', { value: '-1' }, 'Auto'));
  const now = h('span', { class: 'now', 'aria-live': 'polite' });
  const fsButton = h('button', { type: 'button', class: 'button', 'aria-label': 'Full screen' }, svgIcon('fullscreen'), h('span', {}, 'Full screen'));
  fsButton.querySelector('svg').setAttribute('width', '18');
  fsButton.querySelector('svg').setAttribute('height', '18');
  const bar = h('div', { class: 'player-bar' },
    h('label', { for: 'quality' }, 'Quality'), quality, now, h('span', { class: 'spacer' }), fsButton);
  area.append(bar);

  const toggleFullscreen = () => {
    if (document.fullscreenElement) {
      document.exitFullscreen().catch(() => {});
    } else if (area.requestFullscreen) {
      area.requestFullscreen().catch(() => {
        // No Fullscreen API on the container (iOS): the video itself can.
        if (media.webkitEnterFullscreen) media.webkitEnterFullscreen();
      });
    } else if (media.webkitEnterFullscreen) {
      media.webkitEnterFullscreen();
    }
  };
  fsButton.addEventListener('click', toggleFullscreen);
  document.addEventListener('fullscreenchange', () => {
    const on = document.fullscreenElement === area;
    fsButton.setAttribute('aria-label', on ? 'Exit full screen' : 'Full screen');
    fsButton.querySelector('span').textContent = on ? 'Exit full screen' : 'Full screen';
  });

  media.addEventListener('error', () => {
    const e = media.error;
    if (state.native || !state.hls) {
      const msg = e ? `The browser cannot play this media (code ${e.code}${e.message ? ': ' + e.message : ''}).` : 'The browser cannot play this media.';
      state.errors.push({ type: 'media', details: msg, fatal: true });
      state.fatal = msg;
      if (o.onError) o.onError(msg);
    }
  });

  const levelName = (l, all) => {
    let name = l.height ? `${l.height}p` : fmtBitrate(l.bitrate);
    if (l.height && all.filter((x) => x.height === l.height).length > 1) name += ` · ${fmtBitrate(l.bitrate)}`;
    return name;
  };
  const showNow = () => {
    const l = state.levels[state.currentLevel];
    const name = l ? levelName(l, state.levels) : '';
    quality.options[0].textContent = state.autoLevel && name ? `Auto (${name})` : 'Auto';
    // A level named by its height also says its bitrate; one named by its
    // bitrate (audio) says it once.
    now.textContent = name ? `Playing ${name}${l.height && l.bitrate ? ' · ' + fmtBitrate(l.bitrate) : ''}` : '';
  };
  quality.addEventListener('change', () => {
    const v = Number(quality.value);
    if (!state.hls) return;
    // currentLevel switches at once (the buffer ahead is replaced); -1 is auto.
    state.hls.currentLevel = v;
    state.autoLevel = v === -1;
    showNow();
  });

  const tryPlay = () => {
    const p = media.play();
    // A blocked autoplay is not an error: the user presses play.
    if (p && p.catch) p.catch(() => {});
  };

  const useHls = typeof Hls !== 'undefined' && Hls.isSupported();
  const canNative = media.canPlayType('application/vnd.apple.mpegurl') !== '';
  if (!useHls && canNative) {
    state.native = true;
    quality.title = 'The browser picks the quality';
    media.src = o.src;
    media.addEventListener('loadedmetadata', tryPlay, { once: true });
  } else if (!useHls) {
    const msg = 'This browser cannot play HLS: it has neither Media Source Extensions nor native HLS.';
    state.fatal = msg;
    if (o.onError) o.onError(msg);
  } else {
    let mediaRecovered = false;
    const load = () => {
      // A presentation still being processed is an EVENT playlist, which
      // hls.js would join at its live edge: startPosition 0 plays it from
      // the beginning. A finished (VOD) one starts where its media starts.
      const hls = new Hls({ startPosition: o.fromStart ? 0 : -1, enableWorker: true, capLevelToPlayerSize: false });
      state.hls = hls;
      hls.on(Hls.Events.MANIFEST_PARSED, (_, d) => {
        state.levels = d.levels.map((l) => ({ height: l.height || 0, width: l.width || 0, bitrate: l.bitrate || 0 }));
        const order = state.levels.map((l, i) => i).sort((a, b) => state.levels[b].height - state.levels[a].height || state.levels[b].bitrate - state.levels[a].bitrate);
        quality.replaceChildren(h('option', { value: '-1' }, 'Auto'));
        for (const i of order) quality.append(h('option', { value: String(i) }, levelName(state.levels[i], state.levels)));
        quality.disabled = state.levels.length < 2;
        quality.value = '-1';
        tryPlay();
      });
      hls.on(Hls.Events.LEVEL_SWITCHED, (_, d) => {
        state.currentLevel = d.level;
        showNow();
      });
      hls.on(Hls.Events.ERROR, (_, d) => {
        const info = [d.response && d.response.code ? 'HTTP ' + d.response.code : '', d.error && d.error.message ? d.error.message : ''].filter(Boolean).join(' ');
        if (!d.fatal) {
          // Stalls on a busy machine are recoverable and hls.js recovers.
          state.errors.push({ type: d.type, details: d.details, fatal: false, info });
          return;
        }
        if (d.type === Hls.ErrorTypes.NETWORK_ERROR && o.shouldRetry && o.shouldRetry()) {
          // Not published yet (watch-early): try again shortly.
          state.retries++;
          hls.destroy();
          state.hls = null;
          setTimeout(load, 2000);
          return;
        }
        if (d.type === Hls.ErrorTypes.MEDIA_ERROR && !mediaRecovered) {
          mediaRecovered = true;
          state.errors.push({ type: d.type, details: d.details, fatal: false, info: 'recovering' });
          hls.recoverMediaError();
          return;
        }
        state.errors.push({ type: d.type, details: d.details, fatal: true, info });
        state.fatal = `${d.type}/${d.details}${info ? ' ' + info : ''}`;
        if (o.onError) {
          o.onError(d.type === Hls.ErrorTypes.NETWORK_ERROR
            ? 'The stream could not be loaded. Check the connection and reload the page.'
            : 'The stream could not be played in this browser.');
        }
      });
      hls.loadSource(o.src);
      hls.attachMedia(media);
    };
    load();
  }

  if (o.keyboard) installShortcuts(media, toggleFullscreen);
  return state;
}

// installShortcuts: Space plays or pauses, arrows seek 5 s, F toggles full
// screen, M mutes. Keys typed into form fields and shortcuts with
// modifiers are left alone, and Space still activates a focused button.
function installShortcuts(media, toggleFullscreen) {
  document.addEventListener('keydown', (e) => {
    if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey) return;
    const t = e.target;
    if (t instanceof HTMLElement && (t.isContentEditable || t.closest('input, textarea, select, dialog'))) return;
    const onControl = t instanceof HTMLElement && t.closest('button, a, summary');
    switch (e.key) {
      case ' ':
      case 'k':
        if (onControl && e.key === ' ') return;
        if (media.paused) media.play().catch(() => {}); else media.pause();
        break;
      case 'ArrowLeft':
        media.currentTime = Math.max(0, media.currentTime - SEEK_STEP);
        break;
      case 'ArrowRight': {
        const end = Number.isFinite(media.duration) ? media.duration : Infinity;
        media.currentTime = Math.min(end, media.currentTime + SEEK_STEP);
        break;
      }
      case 'f':
      case 'F':
        toggleFullscreen();
        break;
      case 'm':
      case 'M':
        media.muted = !media.muted;
        break;
      default:
        return;
    }
    e.preventDefault();
  });
}
