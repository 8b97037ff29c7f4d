/*
Package realtime is the hub behind GET /realtime: restdb.io's realtime messaging as a stream of
Server-Sent Events, fed by the store's commits and by messages clients publish.

# Events

The store tells the hub of every committed write (store.Options.OnCommit, called after the
fsync and in commit order) and the hub turns it into events named as restdb.io names them:

	post     one per created document; data {"event":"post","collection":C,"data":<the document>}
	put      one per updated document; data {"event":"put","collection":C,"data":"<id>"}
	delete   one per delete request;   data {"event":"delete","collection":C,"data":["<id>",...]}
	publish  a message sent to POST /realtime; data {"event":"<name>","data":<the message>}
	ping     a keepalive every PingInterval; data the server's time, ISO-8601 UTC
	reset    the events a reconnecting client missed are gone: reload, then follow the stream

Every event but ping carries an id ("<epoch>-<sequence>"; the epoch changes with every start of
the process). A client that reconnects with Last-Event-ID gets the events after that id again
from a ring of the newest events (RingEvents, at most RingBytes of them and none older than
RingAge); when they are no longer all there, or the id is from another epoch, it gets a reset
event instead, whose id lets it resume from there.

# Filtering

Each subscriber has an Access, built by the HTTP layer from its credentials, which the hub asks
about every event: a collection event is heard only by those who may read that document (in a
private collection, only its creator), a published message only by those whose channels list
it. A delete event some of whose documents a subscriber may not see is sent with the others
only. The HTTP layer rebuilds a subscriber's Access at every ping (and at once when Reauthorize
is called, on a settings reload or a change in the users collection), so a revoked key, a
logout or a deactivated user ends the stream within one ping interval.

# Bounds

Nothing a subscriber does can slow the writers or the other subscribers. The committer only
appends a write's changes to the hub's queue; one dispatch goroutine encodes each event once
and hands every subscriber what it may hear, without waiting: the round's frames, encoded once
into one buffer that every subscriber hearing all of them shares (the HTTP layer writes it to
each socket with one writev per round, as an HTTP chunk). Dispatch rounds are at least
Coalesce (25 ms) apart, so that under load a subscriber is woken and written to once per round,
not once per commit; an event that finds the dispatcher idle goes out at once. When writing a
round keeps most subscribers busy for a while (a loaded machine), the next round waits as long
again (up to 250 ms), so that the fan-out leaves the writers about half of the CPU; a stream
still writing when a round comes writes everything waiting with one flush. A subscriber more than
Buffer events behind is disconnected (reason "slow") and its events are counted as dropped (a
single write of more documents than that, a large bulk insert, can therefore disconnect the
subscribers that cannot take it at once: they come back with Last-Event-ID); a
dispatch queue that grows past MaxQueue (the dispatcher cannot keep up) disconnects everyone
(reason "overflow") and empties the ring, so that reconnecting clients reset rather than miss
events silently. Subscribe refuses more than MaxSubscribers streams with ErrFull. Close ends
every stream (reason "shutdown"), so that an HTTP server's graceful shutdown does not wait for
them.
*/
package realtime
