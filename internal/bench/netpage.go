package bench

// The network benchmark's JavaScript: a getStats collector that reads a
// Peets page (window.peets) or the direct page below the same way, and
// the direct page itself, a plain two-party WebRTC call (the baseline)
// that the benchmark signals through the DevTools protocol.

// collectJS returns, for the page's peer connections, every inbound stream
// with its sender, every outbound stream, and the estimated send rate.
// The Peets page has one connection (to its proxy), whose streams are
// mapped to participants by mid; the direct page has one per peer.
const collectJS = `(async () => {
  const r = {now: performance.now(), in: [], out: [], avail: 0};
  let pcs = [];
  if (window.peets && window.peets.pc) {
    const mids = window.peets.state.mids;
    pcs.push({pc: window.peets.pc, from: (mid) => { const m = mids.get(mid); return m ? m.participant : ''; }});
  } else if (window.nb) {
    for (const [peer, pc] of Object.entries(window.nb.pcs)) pcs.push({pc, from: () => peer});
  }
  for (const {pc, from} of pcs) {
    (await pc.getStats()).forEach((s) => {
      if (s.type === 'candidate-pair' && s.nominated && s.state === 'succeeded' && s.availableOutgoingBitrate)
        r.avail += s.availableOutgoingBitrate;
      if (s.type === 'inbound-rtp') {
        r.in.push({from: from(s.mid), kind: s.kind,
          frames: s.framesDecoded || 0, freezes: s.freezeCount || 0, freezeS: s.totalFreezesDuration || 0,
          lost: s.packetsLost || 0, recv: s.packetsReceived || 0,
          bytes: (s.bytesReceived || 0) + (s.headerBytesReceived || 0),
          jb: s.jitterBufferDelay || 0, jbn: s.jitterBufferEmittedCount || 0,
          w: s.frameWidth || 0, h: s.frameHeight || 0,
          concealed: s.concealedSamples || 0, samples: s.totalSamplesReceived || 0,
          nacks: s.nackCount || 0, plis: s.pliCount || 0});
      }
      if (s.type === 'outbound-rtp') {
        r.out.push({kind: s.kind, rid: s.rid || '', bytes: (s.bytesSent || 0) + (s.headerBytesSent || 0),
          target: s.targetBitrate || 0, w: s.frameWidth || 0, h: s.frameHeight || 0,
          fps: s.framesPerSecond || 0, frames: s.framesEncoded || 0,
          qlr: s.qualityLimitationReason || '', qld: s.qualityLimitationDurations || {}});
      }
    });
  }
  return r;
})()`

// directHTML is the baseline's page: nothing but window.nb, driven by the
// benchmark. Its camera and microphone are asked for as the Peets page
// asks for them, and its video is capped at the bitrate the Peets proxy
// gives its page (1.5 Mbit/s), in VP8.
const directHTML = `<!doctype html>
<meta charset="utf-8"><title>peets bench net: direct</title>
<body>
<script>
'use strict';
window.nb = (() => {
  const pcs = {};
  let local = null;
  const maxBitrate = 1500000;
  async function media() {
    if (local) return local;
    local = await navigator.mediaDevices.getUserMedia({
      video: {width: {ideal: 1280}, height: {ideal: 720}, frameRate: {ideal: 30}},
      audio: {echoCancellation: true, noiseSuppression: true, autoGainControl: true},
    });
    return local;
  }
  function show(peer, track) {
    let v = document.getElementById('v-' + peer + '-' + track.kind);
    if (!v) {
      v = document.createElement(track.kind === 'video' ? 'video' : 'audio');
      v.id = 'v-' + peer + '-' + track.kind;
      v.autoplay = true; v.playsInline = true;
      document.body.appendChild(v);
    }
    v.srcObject = new MediaStream([track]);
    v.play().catch(() => {});
  }
  function vp8First(tr) {
    const caps = RTCRtpReceiver.getCapabilities('video').codecs;
    tr.setCodecPreferences([...caps.filter((c) => c.mimeType === 'video/VP8'), ...caps.filter((c) => c.mimeType !== 'video/VP8')]);
  }
  function newPC(peer) {
    const pc = new RTCPeerConnection({bundlePolicy: 'max-bundle'});
    pc.ontrack = (e) => show(peer, e.track);
    pcs[peer] = pc;
    return pc;
  }
  // Only UDP IPv4 candidates on the link's addresses: no loopback (each
  // namespace has its own), no IPv6 (the tap counts IPv4).
  async function gathered(pc) {
    const t0 = performance.now();
    while (pc.iceGatheringState !== 'complete' && performance.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 50));
    return pc.localDescription.sdp.split('\r\n')
      .filter((l) => !l.startsWith('a=candidate:') || (/ udp \d+ \d+\.\d+\.\d+\.\d+ /i.test(l) && !/ 127\./.test(l))).join('\r\n');
  }
  async function capSenders(pc) {
    for (const s of pc.getSenders()) {
      if (!s.track || s.track.kind !== 'video') continue;
      const p = s.getParameters();
      if (!p.encodings || !p.encodings.length) p.encodings = [{}];
      p.encodings[0].maxBitrate = maxBitrate;
      await s.setParameters(p);
    }
  }
  async function offer(peer, send) {
    const pc = newPC(peer);
    if (send) {
      const m = await media();
      for (const t of m.getTracks()) {
        const tr = pc.addTransceiver(t, {direction: 'sendrecv', streams: [m]});
        if (t.kind === 'video') vp8First(tr);
      }
    } else {
      for (const k of ['audio', 'video']) {
        const tr = pc.addTransceiver(k, {direction: 'recvonly'});
        if (k === 'video') vp8First(tr);
      }
    }
    await pc.setLocalDescription();
    return gathered(pc);
  }
  async function answer(peer, sdp, send) {
    const pc = newPC(peer);
    await pc.setRemoteDescription({type: 'offer', sdp});
    if (send) {
      const m = await media();
      for (const tr of pc.getTransceivers()) {
        const t = m.getTracks().find((x) => x.kind === tr.receiver.track.kind);
        if (!t) continue;
        await tr.sender.replaceTrack(t);
        tr.sender.setStreams(m);
        tr.direction = 'sendrecv';
        if (t.kind === 'video') vp8First(tr);
      }
    } else {
      for (const tr of pc.getTransceivers()) tr.direction = 'recvonly';
    }
    await pc.setLocalDescription();
    const out = await gathered(pc);
    await capSenders(pc);
    return out;
  }
  async function accept(peer, sdp) {
    await pcs[peer].setRemoteDescription({type: 'answer', sdp});
    await capSenders(pcs[peer]);
  }
  async function decoded(peer) {
    const pc = pcs[peer];
    if (!pc) return 0;
    let n = 0;
    (await pc.getStats()).forEach((s) => { if (s.type === 'inbound-rtp' && s.kind === 'video') n += s.framesDecoded || 0; });
    return n;
  }
  function close() { for (const k of Object.keys(pcs)) { pcs[k].close(); delete pcs[k]; } }
  return {pcs, offer, answer, accept, decoded, close, loadedAt: performance.now()};
})();
</script>
`
