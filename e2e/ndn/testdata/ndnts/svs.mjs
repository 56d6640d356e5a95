// A stock NDNts State Vector Sync node (SVS v3) in a Peets room, for
// e2e/ndn TestNDNtsInterop. It connects to a forwarder's unix socket,
// registers its prefixes there (NFD management protocol), joins the sync
// group and prints one JSON object per line on stdout:
//
//   {"ev":"ready","name":...,"boot":...}        joined
//   {"ev":"update","name":...,"boot":...,"lo":...,"hi":...}  SvSync's update event
//   {"ev":"rxerror","err":...}                  a sync Interest SvSync rejected
//   {"ev":"publish","name":...,"boot":...,"seq":...}         own entry bumped
//   {"ev":"interest","name":...,"t":...,"seq":...}           Interest for <name>/sync/... (a fetch of a claim)
//   {"ev":"done"}
//
// Its own entry is <name>; it publishes nothing under <name>/sync that a
// Peets member could verify: it only logs the Interests it gets there.
//
// Usage: node svs.mjs --sock PATH --group /peets/room/R --name /ndnts/user/nd/R
//        [--duration MS] [--publish-after MS] [--publishes N]

import { parseArgs } from "node:util";

import { produce } from "@ndn/endpoint";
import { enableNfdPrefixReg } from "@ndn/nfdmgmt";
import { UnixTransport } from "@ndn/node-transport";
import { Name } from "@ndn/packet";
import { SvSync } from "@ndn/svs";

const { values: opt } = parseArgs({
  options: {
    sock: { type: "string" },
    group: { type: "string" },
    name: { type: "string" },
    duration: { type: "string", default: "8000" },
    "publish-after": { type: "string", default: "3000" },
    publishes: { type: "string", default: "3" },
  },
});
if (!opt.sock || !opt.group || !opt.name) {
  console.error("usage: node svs.mjs --sock PATH --group NAME --name NAME");
  process.exit(2);
}

const out = (obj) => process.stdout.write(`${JSON.stringify(obj)}\n`);

// nni reads a NonNegativeInteger name component's value.
const nni = (comp) => comp.value.reduce((n, b) => n * 256 + b, 0);

// uri writes a name as Peets does: generic components as text (the names
// here are ASCII), others as NDNts writes them (e.g. 56=...).
const uri = (name) => `/${name.comps.map((c) => c.type === 8 ? Buffer.from(c.value).toString() : c.toString()).join("/")}`;

const face = await UnixTransport.createFace({}, opt.sock);
enableNfdPrefixReg(face);

const self = new Name(opt.name);
const sync = await SvSync.create({ syncPrefix: new Name(opt.group), svs3: true });
sync.addEventListener("update", (u) => {
  out({ ev: "update", name: uri(u.id.name), boot: u.id.boot, lo: u.loSeqNum, hi: u.hiSeqNum });
});
sync.addEventListener("rxerror", (e) => {
  out({ ev: "rxerror", err: String(e.detail[1]) });
});

// Peets members that take our entry for a claim fetch <name>/sync/t=<boot>/seq=<n>.
const pubPrefix = self.append("sync");
const producer = produce(pubPrefix, async (interest) => {
  const n = interest.name;
  const rest = n.slice(pubPrefix.length);
  out({
    ev: "interest",
    name: uri(n),
    t: rest.length > 0 && rest.get(0).type === 56 ? nni(rest.get(0)) : null,
    seq: rest.length > 1 && rest.get(1).type === 58 ? nni(rest.get(1)) : null,
  });
  return undefined; // no answer
});

const node = sync.add(self);
out({ ev: "ready", name: uri(self), boot: node.id.boot });

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const start = Date.now();
await sleep(Number(opt["publish-after"]));
for (let i = 0; i < Number(opt.publishes); i++) {
  node.seqNum = node.seqNum + 1;
  out({ ev: "publish", name: uri(self), boot: node.id.boot, seq: node.seqNum });
  await sleep(1000);
}
await sleep(Math.max(0, Number(opt.duration) - (Date.now() - start)));
producer.close();
sync.close();
face.close();
out({ ev: "done" });
process.exit(0);
