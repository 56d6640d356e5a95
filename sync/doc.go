// Package roomsync (directory sync/) is a room's sync group: every member
// announces its publications through State Vector Sync v3 on the group
// prefix G (our own implementation: vectorState, onSyncInterest, sendSync)
// and serves them under its own participant prefix P, as signed Data
// P/sync/t=<boot>/seq=<n> (see proto.Publication).
//
// Two delivery classes share one sequence space per member:
//
//   - unordered publications (heartbeats) are soft state: a receiver fetches
//     only the newest seq sync announces, never the history, so a late joiner
//     needs one fetch per member however long the room has run;
//   - ordered publications (chat) are all delivered, in order, exactly once per
//     (publisher, boot, seq): every publication carries the signed seq of the
//     publisher's previous ordered one ("prev"), and receivers walk that chain
//     back from whatever they fetched.
//
// SVS state vector entries are not bound to a signer: anyone in the group can
// claim that P reached seq n. So a received vector is only a hint of what to
// fetch: the member's own state vector moves only when a fetched Data is
// named exactly as asked, is signed by P's own key (Verifier) and decodes,
// and it is all a member announces. A failed fetch or verification changes
// nothing and is counted in Stats. Boot changes are likewise only taken from
// verified publications, and nobody but a member moves its own entry.
//
// A Group without Self is an observer: it sends sync Interests (with no entry
// of its own, which makes members answer with their full vector at once) but
// publishes nothing.
//
// The package name is roomsync so it does not clash with the standard
// library's sync; import it as
//
//	roomsync "github.com/peets/peets/sync"
package roomsync
