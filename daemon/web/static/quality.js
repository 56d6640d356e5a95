// Peets page: the connection-quality verdicts, as pure functions (no DOM,
// no state), so that tests can call them: window.peetsQuality.
'use strict';

(() => {
  // Thresholds of the verdict.
  const FROZEN_MS = 1000; // no new decoded frame for longer: frozen
  const STALLED_MS = 2000; // the proxy got nothing of the stream for longer
  const POOR_LOSS = 10; // % of packets lost
  const FAIR_LOSS = 3;
  const POOR_FPS = 5;
  const FAIR_FPS = 12;

  const LEVELS = ['good', 'fair', 'poor', 'frozen'];

  const worse = (a, b) => (LEVELS.indexOf(a) >= LEVELS.indexOf(b) ? a : b);

  // quality judges one remote participant's media:
  //   video: whether a video is expected (its camera is on and a video
  //     track arrives); without it the verdict is on the audio (stalledMs,
  //     lossPct) only
  //   fps: frames decoded per second; frozenMs: since the last decoded
  //     frame (counted from when the video was expected)
  //   lossPct: the worst of the page's and the proxy's packet loss (%)
  //   stalledMs: since the proxy last got a packet of the stream
  //   layer, topLayer, layerIndex, layers, target: the simulcast layer the
  //     proxy pulls, the highest one offered, its place (0: lowest), how
  //     many there are, and the one it is switching to ('' if none)
  // It returns {level: 'good'|'fair'|'poor'|'frozen', text}.
  function quality(s) {
    const q = s || {};
    const loss = Number(q.lossPct) || 0;
    const notes = [];
    let level = 'good';
    if (q.video && (q.frozenMs || 0) > FROZEN_MS) {
      const secs = Math.round(q.frozenMs / 1000);
      // the network's fault when the proxy gets nothing either, or loses
      const net = (q.stalledMs || 0) > FROZEN_MS || loss >= FAIR_LOSS;
      return { level: 'frozen', text: `Video paused${net ? ': poor connection' : ''} (${secs} s)` };
    }
    if (!q.video && (q.stalledMs || 0) > STALLED_MS) {
      return { level: 'poor', text: `Poor connection: nothing received for ${Math.round(q.stalledMs / 1000)} s` };
    }
    if (loss >= POOR_LOSS) level = 'poor';
    else if (loss >= FAIR_LOSS) level = 'fair';
    if (loss >= 1) notes.push(`${Math.round(loss)}% packets lost`);
    if (q.video && typeof q.fps === 'number') {
      if (q.fps < POOR_FPS) level = worse(level, 'poor');
      else if (q.fps < FAIR_FPS) level = worse(level, 'fair');
      notes.push(`${Math.round(q.fps)} fps`);
    }
    if (q.video && q.layer && (q.layers || 0) > 1) {
      if (q.layer === q.topLayer) notes.push('full resolution');
      else if ((q.layerIndex || 0) === 0) {
        level = worse(level, 'fair');
        notes.push('low resolution (the connection carries no more)');
      } else notes.push('reduced resolution');
      if (q.target) notes.push(q.target === q.topLayer ? 'switching up' : 'switching layer');
    }
    const head = { good: 'Good connection', fair: 'Fair connection', poor: 'Poor connection' }[level];
    return { level, text: notes.length ? `${head}: ${notes.join(', ')}` : head };
  }

  // statusText is the status badge once the media connection is up:
  // frozen lists the names of the participants whose video is frozen, of
  // expected the number of remote videos expected.
  function statusText(frozen, expected) {
    if (!frozen.length) return { kind: 'ok', text: 'Connected' };
    const names = frozen.length > 2 ? `${frozen.slice(0, 2).join(', ')} and ${frozen.length - 2} more` : frozen.join(' and ');
    const all = frozen.length >= expected;
    return { kind: all ? 'warn' : 'ok', text: `Connected · video from ${names} frozen` };
  }

  // uplinkText says what others get of this page's camera: uplink is the
  // proxy's view (quality message), limitation the page's outbound
  // qualityLimitationReason ('', 'none', 'bandwidth', 'cpu', 'other').
  // '' when all is well.
  function uplinkText(uplink, limitation) {
    const out = [];
    if (limitation === 'bandwidth') out.push('Your connection limits the video you send');
    else if (limitation === 'cpu') out.push('Your computer is too busy to send full-quality video');
    if (uplink && uplink.reduced) {
      out.push('Others receive your video at reduced quality (their connections or yours)');
    }
    return out.join('. ');
  }

  window.peetsQuality = { quality, statusText, uplinkText, FROZEN_MS };
})();
