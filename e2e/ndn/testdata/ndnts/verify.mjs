// NDNts's stock verifier on Peets Data, for e2e/interop TestInterop: given
// a room's trust anchor (base64 of its certificate, as `peets room
// --export-anchor` writes it) and a member's certificate, then Data signed
// by that member, each a file of base64, it checks the anchor's
// self-signature, the member's certificate with the anchor's key, and each
// Data with the member's key, with @ndn/keychain's Certificate and
// createVerifier (Ed25519 needs SigningAlgorithmListFull). It prints
// "verified <name>" per packet and exits non-zero on the first failure.
//
// Usage: node verify.mjs ANCHOR MEMBER-CERT DATA...

import { readFileSync } from "node:fs";

import { Certificate, createVerifier, SigningAlgorithmListFull } from "@ndn/keychain";
import { Data } from "@ndn/packet";
import { Decoder } from "@ndn/tlv";

const [anchorFile, certFile, ...dataFiles] = process.argv.slice(2);
if (!anchorFile || !certFile) {
  console.error("usage: node verify.mjs ANCHOR MEMBER-CERT DATA...");
  process.exit(2);
}
// uri writes a name as Peets does: generic components without NDNts's
// "8=" (escaped as NDNts escapes them), others as NDNts writes them.
const uri = (name) => `/${name.comps.map((c) => c.toString().replace(/^8=/, "")).join("/")}`;

const load = (f) => new Decoder(Buffer.from(readFileSync(f, "utf8").trim(), "base64")).decode(Data);
const opts = { algoList: SigningAlgorithmListFull };

const anchor = Certificate.fromData(load(anchorFile));
if (!anchor.isSelfSigned) throw new Error(`${anchor.name} is not self-signed`);
const anchorKey = await createVerifier(anchor, opts);
await anchorKey.verify(anchor.data);
console.log(`verified ${uri(anchor.name)} (the anchor, self-signed)`);

const certData = load(certFile);
await anchorKey.verify(certData);
const member = Certificate.fromData(certData);
console.log(`verified ${uri(member.name)} (issued by ${uri(member.issuer)})`);

const memberKey = await createVerifier(member, opts);
for (const f of dataFiles) {
  const d = load(f);
  await memberKey.verify(d);
  console.log(`verified ${uri(d.name)}`);
}
