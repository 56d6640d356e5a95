// Package roster keeps a room's membership as soft state over the room's
// sync group (package roomsync, directory sync/).
//
// Every participant publishes a heartbeat (proto.RosterEntry) at randomized
// intervals (roomsync.JitterSchedule, default 1 s +- 25 %); a Table adds a
// member on its first valid heartbeat, updates it with the next ones, drops
// it on an explicit bye (Participant.Leave) or after ExpireAfter intervals
// without a heartbeat (default 3). Subscribers get join, update, leave and
// chat events (Table.Subscribe). Room chat goes through the same group,
// ordered per sender and shown once per (sender, boot, seq).
//
// A participant can go away and come back without leaving the sync group
// (Participant.SetPresent; Config.StartAbsent): away sends a bye and stops
// heartbeating but keeps the table following the others; back heartbeats at
// once, with a higher seq than the bye, which members take as a join. A
// table remembers each departure's (boot, seq), so heartbeats from before a
// bye or an expiry never bring a member back.
//
// Join makes a participant; Observe builds the same table without
// publishing anything (`peets roster`); Bench measures a room of N members
// in one process (`peets bench roster`).
package roster
