// Peets page: joins the call on load, sends the camera and microphone to the
// local proxy over one RTCPeerConnection, and shows every participant the
// proxy forwards. Plain JavaScript, no build step, no external resources.
//
// Negotiation is "perfect negotiation"; this page is the POLITE peer: when
// an offer from the proxy collides with its own, setRemoteDescription rolls
// the page's offer back implicitly and the page answers; its own changes are
// offered again afterwards (negotiationneeded fires anew). The proxy is the
// impolite peer and ignores the colliding offer.
'use strict';

(() => {
  const $ = (id) => document.getElementById(id);
  const params = new URLSearchParams(location.search);
  const NAME_KEY = 'peets.name';

  const state = {
    marks: {}, // joining timeline, ms since page load
    ws: null,
    pc: null,
    me: null, // {id, name}
    room: '',
    role: 'participant',
    videoBitrate: 0,
    simulcast: [],
    activeLayers: null, // the camera's encodings the proxy wants sent (null: all), from 'layers'
    layersChain: Promise.resolve(),
    layersRetry: 0,
    participants: new Map(), // id -> {id, name, role, audioMuted, videoMuted, streams}
    tiles: new Map(), // participant id -> tile
    speakers: { dominant: '', order: [] }, // who is speaking, from the proxy
    layoutChoice: localStorage.getItem('peets.layout') || '', // 'grid', 'speaker' or '' (by room size)
    pinned: null, // the participant shown large in speaker view, if pinned
    viewSent: '', // the last view message sent (JSON)
    mainId: null, // the speaker view's main tile
    // For benchmarks (bench room): when the main tile changed, and each
    // remote video's size changes (a layer switch), page time in ms.
    mainLog: [],
    sizeLog: [],
    viewTimer: 0,
    mids: new Map(), // mid -> {participant, kind, stream}
    local: null, // MediaStream of camera and microphone
    audioMuted: false,
    videoMuted: false,
    makingOffer: false,
    sigChain: Promise.resolve(),
    glare: 0,
    left: false,
    joined: false,
    greetings: 0,
    recoveries: 0,
    retries: 0,
    retryTimer: 0,
    firstFrameMs: null,
    loadedAt: performance.now(),
    errors: [],
    chat: [],
    unread: 0,
    stopRetry: false,
    notice: '', // the last persistent notice shown
    mediaUp: false, // the peer connection is connected
    proxyQ: new Map(), // participant id -> {video, audio}: the proxy's view (quality message)
    proxyQAt: 0, // when the last quality message came
    uplink: null, // the proxy's view of our camera (quality message)
    limitation: { reason: '', since: 0 }, // our outbound video's qualityLimitationReason
    statsPrev: new Map(), // inbound-rtp stats id -> {received, lost}
  };

  // ---------- signaling ----------

  function connect() {
    const url = new URL('/ws', location.href);
    url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
    // The proxy's per-run secret, from the URL it printed.
    if (params.get('token')) url.searchParams.set('token', params.get('token'));
    const name = params.get('name') || localStorage.getItem(NAME_KEY);
    if (name) url.searchParams.set('name', name);
    if (params.get('role')) url.searchParams.set('role', params.get('role'));
    mark('ws');
    const ws = new WebSocket(url);
    state.ws = ws;
    setStatus('', state.retries ? 'Reconnecting…' : 'Connecting…');
    ws.onmessage = (ev) => {
      if (state.ws === ws) onMessage(ev.data);
    };
    ws.onclose = () => {
      if (state.ws === ws) onDisconnected();
    };
  }

  function send(type, data, receiver) {
    const ws = state.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return false;
    const m = { type };
    if (receiver) m.receiver = receiver;
    if (data !== undefined) m.data = data;
    ws.send(JSON.stringify(m));
    return true;
  }

  function onMessage(text) {
    let m;
    try {
      m = JSON.parse(text);
    } catch (e) {
      console.warn('peets: bad message from the proxy', e);
      return;
    }
    const d = m.data || {};
    switch (m.type) {
      case 'greeting': onGreeting(d); break;
      case 'offer':
      case 'answer':
        console.debug(`peets: ${m.type} from the proxy, ice-ufrag ${ufragOf(d.sdp)}`);
        signalStep(() => onDescription(m.type, d.sdp));
        break;
      case 'candidate': signalStep(() => onCandidate(d)); break;
      case 'tracks':
        state.mids = new Map((d.tracks || []).map((t) => [t.mid, t]));
        syncTracks();
        break;
      case 'join':
        upsertParticipant(d);
        if (d.id !== state.me?.id) systemMessage(`${displayName(d)} joined`);
        break;
      case 'update': upsertParticipant(d); break;
      case 'leave': {
        const p = state.participants.get(d.id);
        removeParticipant(d.id);
        if (p) systemMessage(`${displayName(p)} left`);
        break;
      }
      case 'room-info':
        state.participants.clear();
        for (const p of d.participants || []) state.participants.set(p.id, p);
        renderAll();
        break;
      case 'text': addChat(m.sender, d.name, d.text, d.time); break;
      case 'quality': onQuality(d); break;
      case 'layers': onLayers(d); break;
      case 'speakers': onSpeakers(d); break;
      case 'error':
        state.errors.push(d);
        console.warn(`peets: error from the proxy: ${d.code} ${d.message || ''}`);
        if (d.code === 'user-taken') notice(d.message || 'Another participant uses your user id.');
        else if (d.code === 'removed') notice(d.message || 'The room\'s owner removed you from the room.');
        else toast(`${d.code}${d.message ? ': ' + d.message : ''}`, true);
        // The proxy could not take our offer: we would wait forever.
        if (d.code === 'negotiation' && d.ref === 'offer' && state.pc?.signalingState === 'have-local-offer') {
          recover('the proxy refused our offer');
        }
        break;
      case 'bye':
        state.byeReason = d.reason || '';
        console.info(`peets: the proxy ends this session: ${state.byeReason}`);
        if (d.reason === 'not joined') state.stopRetry = true;
        break;
      case 'ping': send('pong', m.data); break;
      case 'pong': break;
      default: console.debug('peets: ignoring message', m.type);
    }
  }

  // ufragOf returns the ICE username fragment of an SDP, for the logs.
  function ufragOf(sdp) {
    const m = /^a=ice-ufrag:(\S+)/m.exec(sdp || '');
    return m ? m[1] : '-';
  }

  // sendDescription sends our offer or answer to the proxy.
  function sendDescription(desc) {
    console.debug(`peets: ${desc.type} to the proxy, ice-ufrag ${ufragOf(desc.sdp)}`);
    send(desc.type, { sdp: desc.sdp });
  }

  // Signaling steps run one at a time, in order.
  function signalStep(fn) {
    state.sigChain = state.sigChain.then(fn).catch((e) => {
      console.warn(`peets: signaling step failed: ${e}`);
      recover('signaling failed');
    });
  }

  // recover starts the session over (new WebSocket, new peer connection)
  // when negotiation is stuck; a few times per page at most.
  function recover(why) {
    if (state.left || state.recoveries >= 3) return;
    state.recoveries++;
    console.warn(`peets: starting over: ${why}`);
    toast(`Reconnecting: ${why}`);
    state.ws?.close();
  }

  // mark records when a step of joining happened (ms since page load), for
  // the timeline logged with the first remote frame.
  function mark(what) {
    if (!(what in state.marks)) state.marks[what] = Math.round(performance.now());
  }

  function onGreeting(g) {
    mark('greeting');
    if (state.me && state.me.id !== g.id) removeTile(state.me.id); // a new identity after reconnecting
    state.joined = true;
    state.viewSent = ''; // a new session of the proxy: tell it again
    scheduleView();
    state.greetings++;
    state.retries = 0;
    state.me = { id: g.id, name: g.name || g.id };
    state.room = g.room || '';
    state.role = g.role || 'participant';
    state.videoBitrate = g.videoBitrate || 0;
    state.simulcast = Array.isArray(g.simulcast) ? g.simulcast : [];
    state.participants.clear();
    for (const p of g.participants || []) state.participants.set(p.id, p);
    if (!state.participants.has(g.id)) {
      state.participants.set(g.id, { id: g.id, name: state.me.name, role: state.role });
    }
    announceMute();
    $('room-name').textContent = state.room;
    // Two people compare it to know they are in the same room (not a
    // namesake made by someone else); media is encrypted with its key.
    $('room-name').title = g.anchor
      ? `Room anchor ${g.anchor}${g.owner ? ' (this machine’s: peets invite lets others in)' : ''}; media is end-to-end encrypted`
      : '';
    document.title = state.room ? `${state.room} · Peets` : 'Peets';
    $('name-input').value = state.me.name;
    $('btn-mic').disabled = state.role === 'viewer';
    $('btn-cam').disabled = state.role === 'viewer';
    setStatus('', 'Joining…');
    createPeerConnection(g.iceServers || []);
    renderAll();
    if (state.role !== 'viewer') {
      startMedia().then(() => {
        showSelf();
        addLocalTracks();
      });
    } else if (state.mediaPromise) {
      // Asked for early, not needed: a viewer sends nothing.
      state.mediaPromise.then((st) => st.getTracks().forEach((t) => t.stop()));
    }
  }

  function createPeerConnection(iceServers) {
    closePeerConnection();
    const pc = new RTCPeerConnection({ iceServers, bundlePolicy: 'max-bundle' });
    state.pc = pc;
    state.sigChain = Promise.resolve();
    pc.onnegotiationneeded = async () => {
      if (state.pc !== pc) return;
      try {
        state.makingOffer = true;
        await pc.setLocalDescription();
        const desc = pc.localDescription;
        if (desc && desc.type === 'offer') {
          mark('offer-sent');
          sendDescription(desc);
        }
      } catch (e) {
        console.warn(`peets: offer failed ${e}`);
        if (state.pc === pc) recover('could not make an offer');
      } finally {
        state.makingOffer = false;
      }
    };
    // Gathering watchdog: after an offer of ours was rolled back in a
    // collision (the proxy offers at once, while we offer our camera),
    // Chromium sometimes gathers again for the answer and never reports a
    // candidate: nothing reaches the proxy and the connection never
    // starts. A gathering that gives no candidate in 2 s restarts ICE
    // (a new offer, new credentials, a new gathering).
    let gathered = 0;
    let watchdog = null;
    pc.onicecandidate = ({ candidate }) => {
      if (state.pc !== pc || !candidate || !candidate.candidate) return;
      gathered++;
      console.debug(`peets: candidate to the proxy, ice-ufrag ${candidate.usernameFragment || '-'}`);
      send('candidate', candidate.toJSON());
    };
    pc.onicegatheringstatechange = () => {
      if (state.pc !== pc) return;
      console.debug(`peets: ICE gathering ${pc.iceGatheringState}`);
      clearTimeout(watchdog);
      if (pc.iceGatheringState !== 'gathering') return;
      const before = gathered;
      watchdog = setTimeout(() => {
        if (state.pc !== pc || gathered !== before || pc.connectionState === 'connected') return;
        console.warn('peets: ICE gathering gave no candidate in 2 s: restarting ICE');
        pc.restartIce();
      }, 2000);
    };
    pc.ontrack = () => {
      mark('track');
      syncTracks();
    };
    pc.onconnectionstatechange = () => {
      if (state.pc !== pc) return;
      const s = pc.connectionState;
      console.info(`peets: media connection ${s} (ICE ${pc.iceConnectionState})`);
      state.mediaUp = s === 'connected';
      if (s === 'connected') {
        mark('connected');
        updateStatus();
      }
      else if (s === 'failed') {
        setStatus('bad', 'Media connection failed');
        // Start over: a new WebSocket brings a new session.
        state.ws?.close();
      } else if (s === 'disconnected') setStatus('', 'Media interrupted…');
    };
  }

  function closePeerConnection() {
    const pc = state.pc;
    state.pc = null;
    state.mediaUp = false;
    state.mids.clear();
    if (pc) pc.close();
  }

  async function onDescription(type, sdp) {
    const pc = state.pc;
    if (!pc || !sdp) return;
    const collision = type === 'offer' && (state.makingOffer || pc.signalingState !== 'stable');
    // The senders already negotiated: a rollback may stop them (below).
    const sending = collision ? pc.getTransceivers().filter(isSending) : [];
    if (collision) state.glare++; // polite: never ignore, roll back implicitly
    if (type === 'answer' && pc.signalingState !== 'have-local-offer') return;
    await pc.setRemoteDescription({ type, sdp });
    mark(type === 'offer' ? 'offer-received' : 'answer-received');
    if (type === 'offer') {
      await pc.setLocalDescription();
      sendDescription(pc.localDescription);
    }
    if (sending.length) await restartSenders(pc, sending);
    syncTracks();
  }

  function isSending(t) {
    return !t.stopped && !!t.sender.track && (t.currentDirection === 'sendonly' || t.currentDirection === 'sendrecv');
  }

  // restartSenders re-attaches the track of each sender that was sending
  // before our offer was rolled back. Chromium 148 (not 156) stops every
  // such sender when it rolls a renegotiation offer back: its outbound-rtp
  // counters restart at 0 and stay there, so the others lose our camera
  // and microphone for good. A new track binding starts the encoder again;
  // elsewhere it costs one keyframe.
  async function restartSenders(pc, transceivers) {
    for (const t of transceivers) {
      const track = t.sender.track;
      if (state.pc !== pc || t.stopped || !track || track.readyState === 'ended') continue;
      try {
        await t.sender.replaceTrack(null);
        await t.sender.replaceTrack(track);
      } catch (e) {
        console.warn(`peets: could not restart a sender after a rollback: ${e}`);
      }
    }
  }

  async function onCandidate(c) {
    const pc = state.pc;
    if (!pc || !c.candidate) return;
    try {
      await pc.addIceCandidate(c);
      console.debug(`peets: candidate from the proxy, ice-ufrag ${c.usernameFragment || '-'}`);
    } catch (e) {
      console.warn(`peets: candidate refused (ufrag ${c.usernameFragment || '-'}, signaling ${pc.signalingState}): ${e}`);
    }
  }

  function onDisconnected() {
    closePeerConnection();
    for (const id of [...state.tiles.keys()]) {
      if (id !== state.me?.id) removeTile(id);
    }
    if (state.left) return;
    state.joined = false;
    if (state.stopRetry) {
      setStatus('bad', 'Not admitted');
      return;
    }
    setStatus('bad', 'Disconnected, retrying…');
    linkExpired().then((expired) => {
      if (state.left || state.ws?.readyState === WebSocket.OPEN) return;
      if (expired) {
        setStatus('bad', 'Link expired');
        notice('This address is from an earlier run of peets: open the URL it printed this time.');
        return;
      }
      const delay = Math.min(1000 * 2 ** state.retries, 10000);
      state.retries++;
      if (state.retries > 60) return;
      state.retryTimer = setTimeout(connect, delay);
    });
  }

  // linkExpired tells a proxy that refuses this page's token (the page was
  // opened from an earlier run's URL) from one that is down: a refused
  // WebSocket looks closed to the page, so it asks for the page itself.
  async function linkExpired() {
    try {
      const r = await fetch(location.href, { method: 'HEAD', cache: 'no-store' });
      return r.status === 403;
    } catch {
      return false;
    }
  }

  // ---------- local media ----------

  // startMedia asks for the camera and mic once; the page starts asking at
  // load, in parallel with the signaling connection, since the camera takes
  // a few hundred ms to open.
  function startMedia() {
    if (!state.mediaPromise) state.mediaPromise = openMedia();
    return state.mediaPromise;
  }

  async function openMedia() {
    if (state.local) return state.local;
    const video = { width: { ideal: 1280 }, height: { ideal: 720 }, frameRate: { ideal: 30 } };
    const audio = { echoCancellation: true, noiseSuppression: true, autoGainControl: true };
    const attempts = [{ video, audio }, { video }, { audio }];
    let lastErr;
    for (const c of attempts) {
      try {
        state.local = await navigator.mediaDevices.getUserMedia(c);
        mark('camera');
        break;
      } catch (e) {
        lastErr = e;
      }
    }
    if (!state.local) {
      toast(`No camera or microphone: ${lastErr ? lastErr.name : 'unavailable'}. You can still watch and chat.`, true);
      state.local = new MediaStream();
    }
    if (!state.local.getVideoTracks().length) state.videoMuted = true;
    if (!state.local.getAudioTracks().length) state.audioMuted = true;
    applyMute();
    announceMute();
    return state.local;
  }

  // announceMute tells the proxy whether the microphone and camera are on,
  // so that the others see it (it travels in the roster).
  function announceMute() {
    if (state.role === 'viewer' || !state.joined) return;
    send('profile', { audioMuted: state.audioMuted, videoMuted: state.videoMuted });
  }

  // showSelf puts the camera preview (muted, mirrored) in the own tile.
  function showSelf() {
    if (!state.me || !state.local) return;
    const tile = ensureTile(state.me.id);
    if (tile.video.srcObject === state.local) return;
    tile.video.muted = true;
    tile.video.srcObject = state.local;
    tile.hasVideo = false;
    updateTileVideo(tile);
    watchFrames(tile, true);
  }

  // layersFor keeps the simulcast layers (lowest first) that a camera of
  // this height can feed: Chromium encodes at most 3 layers from 540 lines
  // up, 2 from 270, 1 below, and drops the top ones beyond that (a 360p
  // camera would be sent at 180p at most). So the lowest are left out
  // here instead: the top layer is always the camera's full size. One
  // layer left means no simulcast.
  function layersFor(layers, height) {
    const n = height >= 540 ? 3 : height >= 270 ? 2 : 1;
    if (!height || layers.length <= n) return layers;
    return layers.slice(layers.length - n);
  }

  function addLocalTracks() {
    const pc = state.pc;
    if (!pc || !state.local || state.role === 'viewer') return;
    const sending = new Set(pc.getSenders().map((s) => s.track).filter(Boolean));
    for (const track of state.local.getTracks()) {
      if (sending.has(track)) continue;
      const init = { direction: 'sendonly', streams: [state.local] };
      const single = state.videoBitrate > 0 ? [{ maxBitrate: state.videoBitrate }] : undefined;
      if (track.kind === 'video') {
        // Simulcast: one encoding per layer (lowest first); each remote
        // participant's proxy pulls the one its path carries.
        const layers = layersFor(state.simulcast, track.getSettings().height || 0);
        init.sendEncodings = layers.length > 1
          ? layers.map((l) => ({ rid: l.rid, scaleResolutionDownBy: l.scaleResolutionDownBy, maxBitrate: l.maxBitrate }))
          : single;
      }
      // A new camera track starts with every encoding: the proxy publishes
      // a layer when it first gets it, and only then can anyone ask for it.
      if (track.kind === 'video') state.activeLayers = null;
      try {
        pc.addTransceiver(track, init);
      } catch (e) {
        if (track.kind !== 'video' || !init.sendEncodings || init.sendEncodings.length < 2) throw e;
        console.warn(`peets: no simulcast in this browser (${e}): one encoding`);
        init.sendEncodings = single;
        pc.addTransceiver(track, init);
      }
    }
    if (pc.connectionState !== 'connected') setStatus('', 'Connecting media…');
  }

  // onLayers: the proxy pauses the camera's encodings nobody has asked for
  // lately and resumes one as soon as a subscriber asks for it (protocol 7,
  // 'layers').
  function onLayers(d) {
    state.activeLayers = Array.isArray(d.active) ? d.active : null;
    applyLayers();
  }

  // applyLayers sets each simulcast encoding of the camera's sender active
  // or not, keeping the rest of its parameters (a resumed encoding starts
  // with a keyframe). One call at a time: setParameters wants the
  // parameters of the latest getParameters.
  function applyLayers() {
    state.layersChain = state.layersChain.then(async () => {
      const want = state.activeLayers;
      if (!state.pc || !want) return;
      for (const sender of state.pc.getSenders()) {
        if (sender.track?.kind !== 'video') continue;
        const params = sender.getParameters();
        const encs = params.encodings || [];
        if (encs.length < 2 || !encs.every((e) => e.rid)) continue;
        let changed = false;
        for (const e of encs) {
          const active = want.includes(e.rid);
          if (e.active !== active) {
            e.active = active;
            changed = true;
          }
        }
        if (!changed) continue;
        try {
          await sender.setParameters(params);
          console.info(`peets: camera layers sent: ${encs.filter((e) => e.active).map((e) => e.rid).join(', ')}`);
        } catch (e) {
          console.warn(`peets: cannot pause or resume camera layers (${e}); again in a second`);
          clearTimeout(state.layersRetry);
          state.layersRetry = setTimeout(applyLayers, 1000);
        }
      }
    });
  }

  function applyMute() {
    if (state.local) {
      for (const t of state.local.getAudioTracks()) t.enabled = !state.audioMuted;
      for (const t of state.local.getVideoTracks()) t.enabled = !state.videoMuted;
    }
    const mic = $('btn-mic');
    mic.classList.toggle('off', state.audioMuted);
    mic.setAttribute('aria-pressed', String(state.audioMuted));
    mic.title = state.audioMuted ? 'Unmute microphone' : 'Mute microphone';
    mic.querySelector('use').setAttribute('href', state.audioMuted ? '#i-mic-off' : '#i-mic');
    const cam = $('btn-cam');
    cam.classList.toggle('off', state.videoMuted);
    cam.setAttribute('aria-pressed', String(state.videoMuted));
    cam.title = state.videoMuted ? 'Turn camera on' : 'Turn camera off';
    cam.querySelector('use').setAttribute('href', state.videoMuted ? '#i-cam-off' : '#i-cam');
    if (state.me) {
      const p = state.participants.get(state.me.id);
      if (p) {
        p.audioMuted = state.audioMuted;
        p.videoMuted = state.videoMuted;
        renderParticipant(p);
      }
    }
  }

  function toggle(kind) {
    if (state.role === 'viewer') return;
    if (kind === 'audio') {
      if (state.local && !state.local.getAudioTracks().length) return toast('No microphone');
      state.audioMuted = !state.audioMuted;
      send('profile', { audioMuted: state.audioMuted });
    } else {
      if (state.local && !state.local.getVideoTracks().length) return toast('No camera');
      state.videoMuted = !state.videoMuted;
      send('profile', { videoMuted: state.videoMuted });
    }
    applyMute();
  }

  // ---------- remote tracks ----------

  // syncTracks attaches every receiving m-line to its participant's tile,
  // following the proxy's latest tracks message (m-lines are reused when
  // participants come and go).
  function syncTracks() {
    const pc = state.pc;
    if (!pc) return;
    const wanted = new Map(); // participant -> [tracks]
    for (const t of pc.getTransceivers()) {
      if (!t.mid || !t.receiver || !t.receiver.track) continue;
      const m = state.mids.get(t.mid);
      if (!m) continue;
      if (!wanted.has(m.participant)) wanted.set(m.participant, []);
      wanted.get(m.participant).push(t.receiver.track);
    }
    for (const [id, tile] of state.tiles) {
      if (id === state.me?.id) continue;
      setTileTracks(tile, wanted.get(id) || []);
      wanted.delete(id);
    }
    for (const [id, tracks] of wanted) {
      if (state.role === 'broadcaster') continue;
      setTileTracks(ensureTile(id), tracks);
    }
  }

  function setTileTracks(tile, tracks) {
    const cur = tile.stream.getTracks();
    const same = cur.length === tracks.length && tracks.every((t) => cur.includes(t));
    if (same) return;
    tile.stream = new MediaStream(tracks);
    tile.video.srcObject = tracks.length ? tile.stream : null;
    tile.hasVideo = false;
    tile.q = newTileQuality();
    updateTileVideo(tile);
    if (tracks.length) play(tile.video);
    watchFrames(tile, false);
  }

  function play(video) {
    const p = video.play();
    if (p && p.catch) {
      p.catch(() => {
        // Autoplay with sound refused: play muted until a click.
        video.muted = true;
        video.play().catch(() => {});
        $('sound').hidden = false;
      });
    }
  }

  // watchFrames marks the tile as showing video on its first frame, and
  // records the page's first decoded remote frame.
  function watchFrames(tile, self) {
    const v = tile.video;
    const gen = (tile.gen = (tile.gen || 0) + 1);
    const onFrame = () => {
      if (tile.gen !== gen) return;
      if (v.videoWidth > 0) {
        tile.hasVideo = true;
        updateTileVideo(tile);
        if (!self && state.firstFrameMs === null) {
          state.firstFrameMs = performance.now();
          mark('first-frame');
          console.info(`peets: first remote frame ${Math.round(state.firstFrameMs)} ms after page load; timeline ${JSON.stringify(state.marks)}`);
        }
        return;
      }
      schedule();
    };
    // requestVideoFrameCallback does not run in a hidden tab; the resize
    // event (the first frame's size) does.
    const schedule = () => {
      if ('requestVideoFrameCallback' in v) v.requestVideoFrameCallback(onFrame);
      v.addEventListener('resize', onFrame, { once: true });
    };
    schedule();
  }

  // ---------- participants and tiles ----------

  function displayName(p) {
    return (p && (p.name || p.id)) || '?';
  }

  function colorFor(id) {
    let h = 0;
    for (const c of id || '') h = (h * 31 + c.charCodeAt(0)) >>> 0;
    return `hsl(${h % 360} 55% 52%)`;
  }

  function initials(name) {
    const parts = name.trim().split(/\s+/).filter(Boolean);
    if (!parts.length) return '?';
    return (parts.length > 1 ? parts[0][0] + parts[parts.length - 1][0] : parts[0].slice(0, 2));
  }

  function hasTile(p) {
    if (!p) return false;
    if (p.id === state.me?.id) return state.role !== 'viewer';
    return p.role !== 'viewer' && state.role !== 'broadcaster';
  }

  function ensureTile(id) {
    let tile = state.tiles.get(id);
    if (tile) return tile;
    const el = $('tile-tpl').content.firstElementChild.cloneNode(true);
    tile = {
      id,
      el,
      video: el.querySelector('video'),
      nameEl: el.querySelector('.name'),
      micEl: el.querySelector('.mic-off'),
      avatar: el.querySelector('.avatar span'),
      stream: new MediaStream(),
      hasVideo: false,
      qualityEl: el.querySelector('.quality'),
      pausedEl: el.querySelector('.paused'),
      uplinkEl: el.querySelector('.uplink'),
      statsEl: el.querySelector('.stats'),
      statsOpen: false,
      browserStats: {},
      q: newTileQuality(),
      verdict: null,
    };
    el.dataset.participant = id;
    const self = id === state.me?.id;
    if (self) {
      el.classList.add('self');
      tile.video.muted = true;
    }
    el.style.setProperty('--avatar', colorFor(id));
    tile.qualityEl.addEventListener('click', (ev) => {
      ev.stopPropagation(); // not a pin
      toggleStats(tile);
    });
    if (!self) {
      el.addEventListener('click', () => pin(id));
      tile.video.addEventListener('resize', () => {
        logEvent(state.sizeLog, { id, w: tile.video.videoWidth, t: performance.now() });
      });
    }
    state.tiles.set(id, tile);
    tile.el.classList.toggle('speaking', id === state.speakers.dominant);
    // Own tile first, then in order of arrival.
    const grid = $('grid');
    if (self) grid.prepend(el);
    else grid.append(el);
    renderTile(tile);
    layout();
    return tile;
  }

  function removeTile(id) {
    const tile = state.tiles.get(id);
    if (!tile) return;
    if (state.pinned === id) state.pinned = null;
    tile.video.srcObject = null;
    tile.el.remove();
    state.tiles.delete(id);
    layout();
  }

  function updateTileVideo(tile) {
    const p = state.participants.get(tile.id);
    const muted = tile.id === state.me?.id ? state.videoMuted : !!p?.videoMuted;
    tile.el.classList.toggle('novideo', muted || !tile.hasVideo);
  }

  function renderTile(tile) {
    const p = state.participants.get(tile.id) || { id: tile.id };
    const self = tile.id === state.me?.id;
    const name = displayName(p) + (self ? ' (you)' : '');
    tile.nameEl.textContent = name;
    tile.el.title = name;
    tile.avatar.textContent = initials(displayName(p));
    // An SVG element has no "hidden" property: set the attribute.
    tile.micEl.toggleAttribute('hidden', !(self ? state.audioMuted : p.audioMuted));
    updateTileVideo(tile);
  }

  function upsertParticipant(d) {
    if (!d || !d.id) return;
    const old = state.participants.get(d.id) || {};
    // The proxy sends whole participants and omits false flags.
    const p = { ...old, audioMuted: false, videoMuted: false, ...d };
    state.participants.set(d.id, p);
    if (d.id === state.me?.id && d.name) {
      state.me.name = d.name;
      if (document.activeElement !== $('name-input')) $('name-input').value = d.name;
    }
    renderParticipant(p);
  }

  function renderParticipant(p) {
    if (hasTile(p)) renderTile(ensureTile(p.id));
    else removeTile(p.id);
    renderPeople();
    syncTracks();
  }

  function removeParticipant(id) {
    state.participants.delete(id);
    removeTile(id);
    renderPeople();
  }

  function renderAll() {
    for (const p of state.participants.values()) {
      if (hasTile(p)) renderTile(ensureTile(p.id));
    }
    for (const id of [...state.tiles.keys()]) {
      if (!hasTile(state.participants.get(id))) removeTile(id);
    }
    renderPeople();
    syncTracks();
  }

  function renderPeople() {
    const ul = $('people');
    ul.replaceChildren();
    const list = [...state.participants.values()].sort((a, b) => {
      if (a.id === state.me?.id) return -1;
      if (b.id === state.me?.id) return 1;
      return displayName(a).localeCompare(displayName(b));
    });
    for (const p of list) {
      const li = document.createElement('li');
      const av = document.createElement('span');
      av.className = 'dot-avatar';
      av.style.setProperty('--avatar', colorFor(p.id));
      av.textContent = initials(displayName(p));
      const who = document.createElement('span');
      who.className = 'who';
      who.textContent = displayName(p) + (p.id === state.me?.id ? ' (you)' : '');
      li.append(av, who);
      if (p.role && p.role !== 'participant') {
        const r = document.createElement('span');
        r.className = 'role';
        r.textContent = p.role;
        li.append(r);
      }
      if (p.role !== 'viewer') {
        li.append(icon(p.audioMuted ? 'i-mic-off' : 'i-mic', p.audioMuted));
        li.append(icon(p.videoMuted ? 'i-cam-off' : 'i-cam', p.videoMuted));
      }
      ul.append(li);
    }
    const n = state.participants.size;
    $('count').textContent = String(n);
    $('people-count').textContent = `(${n})`;
    const others = [...state.tiles.keys()].filter((id) => id !== state.me?.id).length;
    $('empty').hidden = !state.joined || others > 0 || state.role === 'broadcaster';
  }

  function icon(id, off) {
    const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
    if (off) svg.classList.add('off');
    const use = document.createElementNS('http://www.w3.org/2000/svg', 'use');
    use.setAttribute('href', '#' + id);
    svg.append(use);
    return svg;
  }

  // ---------- layout: grid or speaker view ----------

  // Two tiles (a 1:1 call) and more than GRID_MAX show as the speaker
  // view unless the person chose, the others as a grid. The speaker view: one large tile (the pinned participant, else the
  // dominant speaker) over a strip of thumbnails, those that do not fit
  // the strip off screen. What is shown, and how tall, goes to the proxy
  // (view): it pulls nothing of a video off screen and of a small tile
  // only a small layer.
  const GRID_MAX = 6;
  const THUMB_H = 112; // px, the strip's tiles
  const TILE_GAP = 12;
  const ASPECT = 16 / 9;

  function layoutMode() {
    if (state.layoutChoice) return state.layoutChoice;
    // Two people: the other one large, oneself small, as in any 1:1 call.
    const n = state.tiles.size;
    return n === 2 || n > GRID_MAX ? 'speaker' : 'grid';
  }

  // mainTile is the participant shown large in the speaker view.
  function mainTile() {
    const remote = (id) => id && id !== state.me?.id && state.tiles.has(id);
    if (remote(state.pinned)) return state.pinned;
    if (remote(state.speakers.dominant)) return state.speakers.dominant;
    return state.speakers.order.find(remote) || [...state.tiles.keys()].find(remote) || null;
  }

  function pin(id) {
    state.pinned = state.pinned === id ? null : id;
    if (state.pinned && layoutMode() !== 'speaker') setLayout('speaker');
    else layout();
  }

  function setLayout(mode) {
    state.layoutChoice = mode;
    localStorage.setItem('peets.layout', mode);
    layout();
  }

  // layout sizes the tiles so that they fill the stage.
  function layout() {
    const grid = $('grid');
    const n = grid.children.length;
    const speaker = layoutMode() === 'speaker' && n > 1;
    const btn = $('btn-layout');
    btn.setAttribute('aria-pressed', String(speaker));
    btn.title = speaker ? 'Grid view' : 'Speaker view';
    btn.querySelector('use').setAttribute('href', speaker ? '#i-grid' : '#i-speaker');
    grid.classList.toggle('speaker', speaker);
    const W = grid.clientWidth;
    const H = grid.clientHeight;
    if (!n || !W || !H) return scheduleView();
    const main = speaker ? mainTile() : null;
    const moved = main !== state.mainId;
    if (moved) {
      state.mainId = main;
      if (main) logEvent(state.mainLog, { id: main, t: performance.now() });
    }
    for (const [id, tile] of state.tiles) {
      tile.el.classList.toggle('main', id === main);
      tile.el.classList.toggle('pinned', id === state.pinned);
      tile.el.classList.remove('offscreen');
      tile.el.style.order = '';
    }
    if (!speaker) {
      let best = 0;
      for (let cols = 1; cols <= n; cols++) {
        const rows = Math.ceil(n / cols);
        const w = Math.min((W - TILE_GAP * (cols - 1)) / cols, ((H - TILE_GAP * (rows - 1)) / rows) * ASPECT);
        if (w > best) best = w;
      }
      grid.style.setProperty('--tile-w', `${Math.max(120, Math.floor(best))}px`);
      return scheduleView();
    }
    // The strip: recent speakers first, then the others as they came.
    const thumbW = Math.floor(THUMB_H * ASPECT);
    const fit = Math.max(1, Math.floor((W + TILE_GAP) / (thumbW + TILE_GAP)));
    // Others before one's own tile: what is off screen is not pulled.
    const rest = [...state.tiles.keys()].filter((id) => id !== main);
    const rank = (id) => {
      if (id === state.me?.id) return Infinity;
      const i = state.speakers.order.indexOf(id);
      return i < 0 ? state.speakers.order.length : i;
    };
    rest.sort((a, b) => rank(a) - rank(b));
    rest.forEach((id, i) => {
      const tile = state.tiles.get(id);
      tile.el.style.order = String(i + 1);
      tile.el.classList.toggle('offscreen', i >= fit);
    });
    if (main) state.tiles.get(main).el.style.order = '0';
    grid.style.setProperty('--thumb-w', `${thumbW}px`);
    grid.style.setProperty('--main-h', `${Math.max(THUMB_H, H - THUMB_H - TILE_GAP)}px`);
    if (moved && state.joined) {
      // A new speaker in the large tile: tell the proxy now (reading the
      // heights lays the page out), not after the settling delay; the
      // new speaker's picture is awaited.
      clearTimeout(state.viewTimer);
      sendView();
      return;
    }
    scheduleView();
  }

  // logEvent keeps the last 2000 events of a benchmark log.
  function logEvent(log, e) {
    log.push(e);
    if (log.length > 2000) log.splice(0, log.length - 2000);
  }

  // scheduleView tells the proxy what is shown once the layout settles.
  function scheduleView() {
    clearTimeout(state.viewTimer);
    state.viewTimer = setTimeout(sendView, 50);
  }

  function sendView() {
    if (!state.joined) return;
    const dpr = window.devicePixelRatio || 1;
    const tiles = [];
    for (const [id, tile] of state.tiles) {
      if (id === state.me?.id || tile.el.classList.contains('offscreen')) continue;
      // Height 0: not laid out yet; still on screen, so still pulled.
      const h = Math.round(tile.el.clientHeight * dpr);
      tiles.push({ id, height: Math.min(h, 8192) });
    }
    const msg = JSON.stringify(tiles);
    if (msg === state.viewSent) return;
    if (send('view', { tiles })) state.viewSent = msg;
  }

  // ---------- chat ----------

  function timeOf(ms) {
    const d = ms ? new Date(ms) : new Date();
    return d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  }

  function addChat(from, name, text, time) {
    if (!text) return;
    const p = state.participants.get(from);
    const shown = name || displayName(p) || from;
    state.chat.push({ from, name: shown, text, time: time || Date.now() });
    const li = document.createElement('li');
    const meta = document.createElement('div');
    meta.className = 'meta';
    const who = document.createElement('span');
    who.className = 'from';
    who.style.setProperty('--from', colorFor(from));
    who.textContent = from === state.me?.id ? `${shown} (you)` : shown;
    const t = document.createElement('span');
    t.className = 'time';
    t.textContent = timeOf(time);
    meta.append(who, t);
    const body = document.createElement('div');
    body.className = 'text';
    body.textContent = text;
    li.append(meta, body);
    appendMessage(li);
    if ($('app').classList.contains('nosidebar') && from !== state.me?.id) {
      state.unread++;
      $('unread').textContent = String(state.unread);
      $('unread').hidden = false;
    }
  }

  function systemMessage(text) {
    const li = document.createElement('li');
    li.className = 'system';
    li.textContent = `${text} · ${timeOf()}`;
    appendMessage(li);
  }

  function appendMessage(li) {
    const ol = $('messages');
    const atBottom = ol.scrollHeight - ol.scrollTop - ol.clientHeight < 40;
    ol.append(li);
    while (ol.children.length > 500) ol.firstElementChild.remove();
    if (atBottom) ol.scrollTop = ol.scrollHeight;
  }

  // ---------- UI ----------

  function setStatus(kind, text) {
    const el = $('status');
    el.className = `status ${kind || 'connecting'}`;
    $('status-text').textContent = text;
  }

  // notice shows a message that stays until dismissed.
  function notice(text) {
    state.notice = text;
    $('notice-text').textContent = text;
    $('notice').hidden = false;
  }

  function toast(text, bad) {
    const el = document.createElement('div');
    el.className = 'toast' + (bad ? ' bad' : '');
    el.textContent = text;
    $('toasts').append(el);
    setTimeout(() => el.remove(), 5000);
    while ($('toasts').children.length > 4) $('toasts').firstElementChild.remove();
  }

  function leave() {
    if (state.left) return;
    state.left = true;
    clearTimeout(state.retryTimer);
    send('bye', { reason: 'left' });
    const ws = state.ws;
    state.ws = null;
    if (ws) ws.close(1000);
    closePeerConnection();
    if (state.local) for (const t of state.local.getTracks()) t.stop();
    state.local = null;
    for (const id of [...state.tiles.keys()]) removeTile(id);
    setStatus('bad', 'Left');
    $('left-reason').textContent = state.room ? `Room ${state.room}` : '';
    $('left').hidden = false;
  }

  function bindUI() {
    $('btn-mic').addEventListener('click', () => toggle('audio'));
    $('btn-cam').addEventListener('click', () => toggle('video'));
    $('btn-leave').addEventListener('click', leave);
    $('btn-layout').addEventListener('click', () => {
      const speaker = layoutMode() === 'speaker';
      if (speaker) state.pinned = null;
      setLayout(speaker ? 'grid' : 'speaker');
    });
    $('btn-rejoin').addEventListener('click', () => location.reload());
    $('notice-close').addEventListener('click', () => { $('notice').hidden = true; });
    $('btn-chat').addEventListener('click', () => {
      const app = $('app');
      const narrow = matchMedia('(max-width: 820px)').matches;
      if (narrow) app.classList.toggle('sidebar-open');
      else app.classList.toggle('nosidebar');
      const open = narrow ? app.classList.contains('sidebar-open') : !app.classList.contains('nosidebar');
      $('btn-chat').setAttribute('aria-pressed', String(open));
      if (open) {
        state.unread = 0;
        $('unread').hidden = true;
      }
      requestAnimationFrame(layout);
    });
    $('chat-form').addEventListener('submit', (e) => {
      e.preventDefault();
      const input = $('chat-input');
      const text = input.value.trim();
      if (!text || !state.me) return;
      if (!send('text', { text })) return toast('Not connected', true);
      addChat(state.me.id, state.me.name, text, Date.now());
      input.value = '';
    });
    $('name-form').addEventListener('submit', (e) => {
      e.preventDefault();
      const name = $('name-input').value.trim();
      if (!name || !state.me) return;
      send('profile', { name });
      localStorage.setItem(NAME_KEY, name);
      upsertParticipant({ id: state.me.id, name });
      $('name-input').blur();
    });
    $('sound').addEventListener('click', () => {
      for (const [id, tile] of state.tiles) {
        if (id !== state.me?.id) {
          tile.video.muted = false;
          tile.video.play().catch(() => {});
        }
      }
      $('sound').hidden = true;
    });
    new ResizeObserver(layout).observe($('stage'));
    window.addEventListener('pagehide', () => send('bye', { reason: 'page closed' }));
  }

  // ---------- connection quality ----------

  // Every QUALITY_TICK the page reads its own getStats for each remote
  // participant (frames decoded, packets lost) and combines them with the
  // proxy's view (the quality message: layer, fetch loss, stalls) into a
  // verdict per tile (quality.js); the status badge and the own tile say
  // what is wrong.
  const QUALITY_TICK = 500; // ms
  const FIRST_FRAME_GRACE = 4000; // ms after the tracks arrive before "frozen"
  const LIMIT_SHOWN_AFTER = 5000; // ms a qualityLimitationReason must last
  const LOSS_TICKS = 4; // the page's loss is over this many ticks

  function newTileQuality() {
    return { since: performance.now(), frames: 0, lastFrameAt: null, hist: [] };
  }

  function onQuality(d) {
    state.proxyQAt = performance.now();
    state.proxyQ = new Map();
    for (const s of d.streams || []) {
      const e = state.proxyQ.get(s.participant) || {};
      e[s.kind] = s;
      state.proxyQ.set(s.participant, e);
    }
    state.uplink = d.uplink || null;
  }

  async function checkQuality() {
    const pc = state.pc;
    if (!pc || !state.joined) return;
    let stats;
    try {
      stats = await pc.getStats();
    } catch {
      return;
    }
    if (state.pc !== pc) return;
    const now = performance.now();
    const per = new Map(); // participant -> {frames, fps, recv, lost}
    const seen = new Set();
    let limit = '';
    stats.forEach((r) => {
      if (r.type === 'outbound-rtp' && r.kind === 'video') {
        const why = r.qualityLimitationReason || 'none';
        if (why !== 'none' && (limit === '' || why === 'bandwidth')) limit = why;
        return;
      }
      if (r.type !== 'inbound-rtp') return;
      const m = state.mids.get(r.mid);
      if (!m) return;
      seen.add(r.id);
      const cur = {
        received: r.packetsReceived || 0, lost: r.packetsLost || 0, bytes: r.bytesReceived || 0, at: r.timestamp,
        jbDelay: r.jitterBufferDelay || 0, jbCount: r.jitterBufferEmittedCount || 0,
      };
      const prev = state.statsPrev.get(r.id) || cur;
      state.statsPrev.set(r.id, cur);
      const e = per.get(m.participant) || { frames: 0, fps: undefined, recv: 0, lost: 0, media: {} };
      e.recv += Math.max(0, cur.received - prev.received);
      e.lost += Math.max(0, cur.lost - prev.lost);
      if (r.kind === 'video') {
        e.frames += r.framesDecoded || 0;
        if (typeof r.framesPerSecond === 'number') e.fps = (e.fps || 0) + r.framesPerSecond;
      }
      // The stats panel's browser column, per kind, over this tick.
      const secs = (cur.at - prev.at) / 1000;
      const k = e.media[r.kind] || { kbps: 0, recv: 0, lost: 0, jbMs: undefined, freezes: 0, freezeS: 0 };
      if (secs > 0) k.kbps += (8 * Math.max(0, cur.bytes - prev.bytes)) / secs / 1000;
      k.recv += Math.max(0, cur.received - prev.received);
      k.lost += Math.max(0, cur.lost - prev.lost);
      if (cur.jbCount > prev.jbCount) k.jbMs = (1000 * (cur.jbDelay - prev.jbDelay)) / (cur.jbCount - prev.jbCount);
      if (r.kind === 'video') {
        k.fps = (k.fps || 0) + (r.framesPerSecond || 0);
        k.freezes += r.freezeCount || 0;
        k.freezeS += r.totalFreezesDuration || 0;
      }
      e.media[r.kind] = k;
      per.set(m.participant, e);
    });
    for (const id of state.statsPrev.keys()) if (!seen.has(id)) state.statsPrev.delete(id);
    if (limit !== state.limitation.reason) state.limitation = { reason: limit, since: now };
    const fresh = now - state.proxyQAt < 5000;
    for (const [id, tile] of state.tiles) {
      if (id === state.me?.id) continue;
      tile.verdict = judgeTile(tile, per.get(id), fresh ? state.proxyQ.get(id) : undefined, now);
      renderQuality(tile);
      tile.browserStats = per.get(id)?.media || {};
      renderStats(tile, fresh ? state.proxyQ.get(id) : undefined);
    }
    renderUplink(now);
    if (state.mediaUp) updateStatus();
  }

  // judgeTile updates a tile's counters and returns its verdict, or null
  // when it carries no media.
  function judgeTile(tile, st, proxy, now) {
    const q = tile.q;
    const p = state.participants.get(tile.id);
    const hasVideo = tile.stream.getVideoTracks().length > 0;
    if (!tile.stream.getTracks().length) return null;
    const video = hasVideo && !p?.videoMuted;
    const frames = st ? st.frames : 0;
    if (frames > q.frames || !video) q.lastFrameAt = now;
    q.frames = frames;
    const from = q.lastFrameAt ?? q.since + FIRST_FRAME_GRACE;
    q.hist.push({ recv: st ? st.recv : 0, lost: st ? st.lost : 0 });
    while (q.hist.length > LOSS_TICKS) q.hist.shift();
    const recv = q.hist.reduce((a, h) => a + h.recv, 0);
    const lost = q.hist.reduce((a, h) => a + h.lost, 0);
    const pv = proxy?.video;
    const stream = video ? pv : proxy?.audio || pv;
    return window.peetsQuality.quality({
      video,
      fps: st?.fps,
      frozenMs: video ? Math.max(0, now - from) : 0,
      lossPct: Math.max(recv + lost ? (100 * lost) / (recv + lost) : 0, pv?.loss_pct || 0, proxy?.audio?.loss_pct || 0),
      stalledMs: stream?.stalled_ms || 0,
      layer: pv?.layer || '',
      topLayer: pv?.top || '',
      layerIndex: pv?.layer_index || 0,
      layers: pv?.layers || 0,
      target: pv?.target || '',
    });
  }

  // ---------- the stats panel (opened from a tile's quality bars) ----------

  // STATS_ROWS are the panel's rows: the proxy's figure (its quality
  // message: docs/metrics.md names) and the browser's (getStats), per kind.
  const STATS_ROWS = [
    ['layer', 'layer', (p) => (p?.layer ? `${p.layer} (${(p.layer_index || 0) + 1}/${p.layers})${p.target && p.target !== p.layer ? ' → ' + p.target : ''}` : '-'), () => ''],
    ['kbps', 'kbit/s', (p) => num(p?.bitrate_bps, 1e-3), (b) => num(b?.kbps)],
    ['fps', 'fps', (p) => num(p?.frames_per_s, 1, 1), (b) => num(b?.fps, 1, 1)],
    ['loss', 'loss %', (p) => num(p?.loss_pct, 1, 1), (b) => (b && b.recv + b.lost ? num((100 * b.lost) / (b.recv + b.lost), 1, 1) : '-')],
    ['rtt', 'RTT ms', (p) => num(p?.srtt_ms, 1, 1), () => ''],
    ['buffer', 'buffer ms', (p) => num(p?.buffer_delay_ms, 1, 1), (b) => num(b?.jbMs, 1, 0)],
    ['freezes', 'freezes', () => '', (b) => (b?.freezes !== undefined ? `${b.freezes} (${num(b.freezeS, 1, 1)} s)` : '')],
    ['stalled', 'stalled s', (p) => (p?.stalled_ms ? num(p.stalled_ms, 1e-3, 1) : '-'), () => ''],
  ];

  // esc makes text safe inside the panel's HTML (rids are checked by the
  // proxy, but the panel does not rely on it).
  function esc(v) {
    return String(v).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  }

  function num(v, scale = 1, digits = 0) {
    return typeof v === 'number' && isFinite(v) ? (v * scale).toFixed(digits) : '-';
  }

  function toggleStats(tile) {
    tile.statsOpen = !tile.statsOpen;
    tile.qualityEl.setAttribute('aria-expanded', String(tile.statsOpen));
    renderStats(tile, state.proxyQ.get(tile.id));
  }

  // renderStats fills an open panel: one column per kind, proxy | browser.
  function renderStats(tile, proxy) {
    tile.statsEl.hidden = !tile.statsOpen;
    if (!tile.statsOpen) return;
    const kinds = ['video', 'audio'].filter((k) => proxy?.[k] || tile.browserStats?.[k]);
    const head = `<tr><th></th>${kinds.map((k) => `<th colspan="2">${k}: proxy | browser</th>`).join('')}</tr>`;
    const rows = STATS_ROWS.map(([key, label, fromProxy, fromBrowser]) => {
      const cells = kinds.map((k) => {
        const pv = fromProxy(proxy?.[k]);
        const bv = fromBrowser(tile.browserStats?.[k]);
        return `<td data-key="${k}-${key}-proxy">${esc(pv)}</td><td data-key="${k}-${key}-browser">${esc(bv)}</td>`;
      });
      return `<tr><th>${label}</th>${cells.join('')}</tr>`;
    });
    tile.statsEl.innerHTML = `<table>${head}${rows.join('')}</table>`;
  }

  function renderQuality(tile) {
    const v = tile.verdict;
    const el = tile.qualityEl;
    el.hidden = !v;
    el.className = `quality ${v ? v.level : ''}`;
    el.dataset.level = v ? v.level : '';
    el.title = v ? v.text : '';
    el.setAttribute('aria-label', v ? v.text : '');
    const frozen = v?.level === 'frozen';
    tile.el.classList.toggle('frozen', frozen);
    tile.pausedEl.hidden = !frozen;
    tile.pausedEl.textContent = frozen ? v.text : '';
  }

  // renderUplink shows on the own tile what others get of our camera.
  function renderUplink(now) {
    const tile = state.me && state.tiles.get(state.me.id);
    if (!tile) return;
    const l = state.limitation;
    const shown = now - l.since >= LIMIT_SHOWN_AFTER ? l.reason : '';
    const text = state.videoMuted ? '' : window.peetsQuality.uplinkText(state.uplink, shown);
    tile.uplinkEl.hidden = !text;
    tile.uplinkEl.textContent = text;
  }

  // updateStatus sets the badge once the media connection is up: never
  // just "Connected" while a remote video is frozen.
  function updateStatus() {
    const frozen = [];
    let expected = 0;
    for (const [id, tile] of state.tiles) {
      if (id === state.me?.id || !tile.stream.getVideoTracks().length) continue;
      if (state.participants.get(id)?.videoMuted) continue;
      expected++;
      if (tile.verdict?.level === 'frozen') frozen.push(displayName(state.participants.get(id)));
    }
    const st = window.peetsQuality.statusText(frozen, expected);
    setStatus(st.kind, st.text);
  }

  // ---------- test and debugging hooks ----------

  // outbound lists what this page sends, per m-line (packets and frames
  // so far).
  async function outbound() {
    const out = [];
    const pc = state.pc;
    if (!pc) return out;
    const stats = await pc.getStats();
    stats.forEach((r) => {
      if (r.type !== 'outbound-rtp') return;
      out.push({
        kind: r.kind,
        mid: r.mid,
        packetsSent: r.packetsSent || 0,
        framesEncoded: r.framesEncoded || 0,
        qualityLimitationReason: r.qualityLimitationReason || '',
      });
    });
    return out;
  }

  async function inbound() {
    const out = [];
    const pc = state.pc;
    if (!pc) return out;
    const stats = await pc.getStats();
    stats.forEach((r) => {
      if (r.type !== 'inbound-rtp') return;
      const m = state.mids.get(r.mid);
      out.push({
        kind: r.kind,
        mid: r.mid,
        participant: m ? m.participant : null,
        packetsReceived: r.packetsReceived || 0,
        packetsLost: r.packetsLost || 0,
        framesDecoded: r.framesDecoded || 0,
        frameWidth: r.frameWidth || 0,
        nackCount: r.nackCount || 0,
        pliCount: r.pliCount || 0,
        freezeCount: r.freezeCount || 0,
        totalFreezesDuration: r.totalFreezesDuration || 0,
      });
    });
    return out;
  }

  // decoded summarizes, per remote participant, what this page plays.
  async function decoded() {
    const res = {};
    for (const s of await inbound()) {
      if (!s.participant) continue;
      const r = (res[s.participant] ||= { framesDecoded: 0, videoWidth: 0, audioPackets: 0, videoPackets: 0 });
      if (s.kind === 'video') {
        r.framesDecoded += s.framesDecoded;
        r.videoPackets += s.packetsReceived;
      } else {
        r.audioPackets += s.packetsReceived;
      }
    }
    for (const [id, tile] of state.tiles) {
      if (id !== state.me?.id && res[id]) res[id].videoWidth = tile.video.videoWidth;
    }
    return res;
  }

  // onSpeakers marks the dominant speaker's tile (the proxy decides it
  // from the audio levels on everyone's audio packets).
  function onSpeakers(d) {
    const moved = (d.dominant || '') !== state.speakers.dominant;
    state.speakers = { dominant: d.dominant || '', order: d.order || [] };
    markSpeaker();
    if (moved && layoutMode() === 'speaker') layout();
  }

  function markSpeaker() {
    for (const [id, tile] of state.tiles) {
      tile.el.classList.toggle('speaking', id === state.speakers.dominant);
    }
  }

  // tileQuality returns each remote tile's verdict as shown.
  function tileQuality() {
    const out = {};
    for (const [id, tile] of state.tiles) {
      if (id !== state.me?.id && tile.verdict) out[id] = { ...tile.verdict };
    }
    return out;
  }

  window.peets = {
    state,
    tileQuality,
    quality: window.peetsQuality.quality,
    get pc() { return state.pc; },
    get firstFrameMs() { return state.firstFrameMs; },
    inbound,
    outbound,
    decoded,
    send,
    leave,
    toggle,
    pin,
    setLayout,
  };

  bindUI();
  applyMute();
  if (params.get('role') !== 'viewer') startMedia();
  setInterval(checkQuality, QUALITY_TICK);
  connect();
})();
