// embed.js: the minimal player page, /embed/{id}, that other sites put in
// an <iframe>. It needs no session: the page carries the playback URL.
import { createPlayer } from './player.js';

const main = document.getElementById('main');
const message = document.getElementById('message');
createPlayer(document.getElementById('player-area'), {
  src: main.dataset.src,
  kind: main.dataset.kind === 'audio' ? 'audio' : 'video',
  poster: main.dataset.poster || '',
  title: main.dataset.title || '',
  keyboard: true,
  fromStart: main.dataset.status !== 'ready',
  onError: (msg) => { message.textContent = msg; message.hidden = false; },
});
