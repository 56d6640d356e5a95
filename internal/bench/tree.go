package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"time"

	"github.com/peets/peets/internal/cdp"
	"github.com/peets/peets/internal/linktap"
	"github.com/peets/peets/internal/proc"
	"github.com/peets/peets/proto"
)

// TreeConfig configures Tree.
type TreeConfig struct {
	// Parents is the tree: host i's parent, -1 for the root (host 0);
	// default -1,0,0,1,2 (five hosts, the publisher's two links from the
	// root and four from the farthest hosts).
	Parents []int
	// Forwarders is each host's forwarder: peets, nfd or ndnd; default
	// nfd,ndnd,peets,peets,nfd (ndnd on every host with Routing dv).
	Forwarders []string
	// Routing is static (routes made through each forwarder's management,
	// as with nfdc; default) or dv (ndnd's distance-vector daemon on every
	// host, participants announcing their prefixes, no static route).
	Routing string
	// Publisher is the publisher's host (nil: 3, or the last host if
	// there are fewer).
	Publisher *int
	// Bots and Pages receive: `peets bot --fetch` viewers spread over the
	// hosts (default 10), and `peets up` + headless Chromium viewers on
	// the hosts farthest from the publisher (default 2; the second and
	// later in a smaller window, so that they pull a lower layer).
	Bots, Pages int
	// Duration is the measured window (default 30 s), after Warmup
	// (default 10 s) of every receiver fetching.
	Duration, Warmup time.Duration
	// Bin is the peets binary (default: this one), Ndnd ndnd's (needed for
	// ndnd hosts and dv), NFD the directory of NFD's build with run-nfd.sh
	// (for nfd hosts).
	Bin, Ndnd, NFD string
	// Keep leaves the run's directory (state and logs) and says where.
	Keep   bool
	Logger *slog.Logger
	Echo   io.Writer
}

// TreeResult is one run's figures.
type TreeResult struct {
	Routing      string           `json:"routing"`
	Hosts        []TreeHostResult `json:"hosts"`
	Participants int              `json:"participants"`
	Publisher    string           `json:"publisher_host"`
	DurationS    float64          `json:"duration_s"`
	// RoutedS: from the forwarders' start to routes everywhere (dv: every
	// router reaching every other). JoinedS: from the last participant's
	// start to every roster listing every other participant (the pages'
	// proxies join when their pages load, which is counted in it).
	RoutedS float64 `json:"routed_s"`
	JoinedS float64 `json:"joined_s"`
	// Rosters: participants (pages' proxies included) whose roster
	// (peets_roster_members) lists all the others at the end, of all.
	RostersComplete int `json:"rosters_complete"`
	RostersChecked  int `json:"rosters_checked"`
	// The publisher's packets per stream in the window, and its media
	// Data sent per packet published (one copy per pulled layer is 1).
	Published      map[string]float64 `json:"published_by_stream"`
	UploadByStream map[string]float64 `json:"upload_factor_by_stream"`
	UploadFactor   float64            `json:"upload_factor"` // the largest of a stream pulled
	Links          []TreeLinkResult   `json:"links"`
	// MaxLinkCopies is the largest copies of any stream on any link.
	MaxLinkCopies float64 `json:"max_link_copies"`
	// The bots' fetchers over the window: packets delivered and lost.
	BotDelivered  uint64         `json:"bot_packets_delivered"`
	BotLost       uint64         `json:"bot_packets_lost"`
	BotLossPct    float64        `json:"bot_loss_percent"`
	Pages         []TreePage     `json:"pages"`
	Chromium      string         `json:"chromium,omitempty"`
	HostCPU       float64        `json:"machine_busy_percent"`
	ForwarderKind map[string]int `json:"forwarders"`
}

// TreeHostResult is a host and who is on it.
type TreeHostResult struct {
	Host         string   `json:"host"`
	Forwarder    string   `json:"forwarder"`
	Parent       string   `json:"parent,omitempty"`
	Hops         int      `json:"hops_from_publisher"`
	Participants []string `json:"participants"`
}

// TreeLinkResult is one direction of one link over the window.
type TreeLinkResult struct {
	Link string `json:"link"` // "h1->h3 (ndnd->peets)"
	// Away: the direction away from the publisher; Below: the receivers
	// it leads to.
	Away         bool     `json:"away_from_publisher"`
	Below        []string `json:"receivers_behind,omitempty"`
	Kbps         float64  `json:"kbps"`
	MediaKbps    float64  `json:"media_data_kbps"`
	InterestKbps float64  `json:"media_interest_kbps"`
	OtherKbps    float64  `json:"other_ndn_kbps"`
	// CopiesByStream: media Data of each of the publisher's streams that
	// crossed, per packet the publisher published (a layer pulled behind
	// the link all the window: 1; a layer nobody behind it pulls: 0).
	CopiesByStream map[string]float64 `json:"copies_by_stream,omitempty"`
	DupPercent     float64            `json:"dup_media_data_percent"`
	Missed         uint64             `json:"tap_missed_packets,omitempty"`
}

// TreePage is what one receiving page decoded over the window.
type TreePage struct {
	Page         string  `json:"page"`
	Host         string  `json:"host"`
	Hops         int     `json:"hops_from_publisher"`
	FPS          float64 `json:"fps"`
	Freezes      float64 `json:"freezes"`
	FrozenS      float64 `json:"frozen_s"`
	Width        int     `json:"width"`
	Height       int     `json:"height"`
	Kbps         float64 `json:"kbps"`
	ConcealedPct float64 `json:"audio_concealed_percent"`
	PacketsLost  float64 `json:"packets_lost"`
	WindowSize   string  `json:"window"`
}

// treeParticipant is one process of the run.
type treeParticipant struct {
	user    string
	host    int
	metrics string // its --metrics URL
	page    string // the page's URL (pages)
	window  string
}

// Tree runs the testbed (issue #19): hosts in a tree of network
// namespaces with a mix of forwarders, routes by static configuration or
// by ndnd's routing daemon, a publisher (a bot with the embedded
// three-layer simulcast camera) and receivers spread over the hosts (bots,
// plus real pages), and measures over the window what every link carried
// of each layer, the publisher's upload, the bots' losses, what the pages
// decoded, and that every roster lists everyone. Needs root.
func Tree(ctx context.Context, c TreeConfig) (TreeResult, error) {
	var res TreeResult
	if err := treeDefaults(&c); err != nil {
		return res, err
	}
	res.Routing = c.Routing
	if os.Geteuid() != 0 {
		return res, fmt.Errorf("bench tree makes network namespaces: run it as root")
	}
	dir, err := os.MkdirTemp("", "peets-bench-tree-")
	if err != nil {
		return res, err
	}
	if c.Keep {
		c.Logger.Info("bench tree: keeping the run's state and logs", "dir", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	opt := proc.Options{Echo: c.Echo, Env: sharedTrust(dir)}
	tools := treeTools{peets: c.Bin, ndnd: c.Ndnd, nfd: c.NFD}
	started := time.Now()
	tn, err := newTreeNet(ctx, c.Parents, c.Forwarders, c.Routing == "dv", tools, dir, opt)
	if err != nil {
		return res, err
	}
	var g proc.Group // the participants, stopped before the testbed
	var all []*proc.Proc
	defer func() {
		g.StopAll(5 * time.Second)
		if c.Keep { // their output beside their state
			for _, p := range append(all, tn.procs...) {
				_ = os.WriteFile(filepath.Join(dir, p.Name+".log"), []byte(p.Output()), 0o644)
			}
		}
		tn.close()
	}()
	room := fmt.Sprintf("tree%d", os.Getpid()%100000)
	group := proto.DefaultGroupPrefix(room)
	if c.Routing == "dv" {
		for _, h := range tn.hosts {
			if err := tn.groupStrategy(ctx, h, group); err != nil {
				return res, err
			}
		}
		if err := tn.waitRouters(ctx, tools, 60*time.Second); err != nil {
			return res, err
		}
	} else if err := tn.routeStatic(ctx, group); err != nil {
		return res, err
	}
	res.RoutedS = round3(time.Since(started).Seconds())

	// Who is where: the pages on the hosts farthest from the publisher,
	// the bots round the hosts.
	pubHost := *c.Publisher
	byDistance := make([]int, len(tn.hosts))
	for i := range byDistance {
		byDistance[i] = i
	}
	sort.SliceStable(byDistance, func(a, b int) bool {
		return tn.hops(byDistance[a], pubHost) > tn.hops(byDistance[b], pubHost)
	})
	var parts []*treeParticipant
	pub := &treeParticipant{user: "pub", host: pubHost}
	parts = append(parts, pub)
	for i := range c.Bots {
		parts = append(parts, &treeParticipant{user: fmt.Sprintf("bot%02d", i+1), host: i % len(tn.hosts)})
	}
	for i := range c.Pages {
		w := "1920,1080"
		if i > 0 {
			w = "800,450"
		}
		parts = append(parts, &treeParticipant{user: fmt.Sprintf("page%d", i+1), host: byDistance[i%len(byDistance)], window: w})
	}
	res.Participants = len(parts)
	res.Publisher = fmt.Sprintf("h%d", pubHost)

	uri := func(h int) string { return "unix://" + tn.hosts[h].sock }
	common := func(pt *treeParticipant) []string {
		args := []string{"--user", pt.user, "--room", room, "--forwarder", uri(pt.host),
			"--prefix", sitePrefix(pt.host) + "/" + pt.user, "--state-dir", filepath.Join(dir, pt.user),
			"--log-level", proxyLogLevel(c.Keep, ""), "--metrics", "127.0.0.1:0"}
		if c.Routing == "dv" {
			args = append(args, "--announce")
		}
		return args
	}
	var lastStart time.Time
	for _, pt := range parts {
		var args []string
		switch {
		case pt == pub:
			args = append([]string{"bot"}, common(pt)...)
			args = append(args, "--layers", "embedded", "--role", "broadcaster")
		case pt.window != "":
			args = append([]string{"up"}, common(pt)...)
			args = append(args, "--role", "viewer")
		default:
			args = append([]string{"bot"}, common(pt)...)
			args = append(args, "--fetch", "--role", "viewer")
		}
		h := tn.hosts[pt.host]
		bin, wrapped := h.ns.Command(c.Bin, args...)
		p, err := proc.Start(pt.user, bin, wrapped, opt)
		if err != nil {
			return res, err
		}
		g.Add(p)
		all = append(all, p)
		if pt.window != "" {
			m, err := p.WaitLine(urlLineRe, 20*time.Second)
			if err != nil {
				return res, fmt.Errorf("%s: %w", pt.user, err)
			}
			pt.page = m[1]
		}
		m, err := p.WaitLine(metricsLineRe, 20*time.Second)
		if err != nil {
			return res, fmt.Errorf("%s: %w", pt.user, err)
		}
		pt.metrics = m[1]
		lastStart = time.Now()
	}
	clients := make([]*http.Client, len(tn.hosts))
	for i, h := range tn.hosts {
		clients[i] = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DialContext: h.ns.DialContext}}
	}
	scrape := func(pt *treeParticipant, lbl string, names ...string) (map[string]float64, error) {
		return scrapeCounters(ctx, clients[pt.host], pt.metrics, lbl, names...)
	}
	// Rosters complete: members, the others.
	rosters := func() int {
		n := 0
		for _, pt := range parts {
			if m, err := scrape(pt, "", mRosterMembers); err == nil && int(m[mRosterMembers+"|"]) == len(parts)-1 {
				n++
			}
		}
		return n
	}
	// The pages: a Chromium per page host, in its namespace.
	var pages []*cdp.Page
	var pageParts []*treeParticipant
	for _, pt := range parts {
		if pt.window == "" {
			continue
		}
		h := tn.hosts[pt.host]
		b, err := cdp.Launch(ctx, cdp.Options{Logger: c.Logger, Wrap: h.ns.Command, DialContext: h.ns.DialContext,
			ExtraFlags: []string{"--window-size=" + pt.window}})
		if err != nil {
			return res, fmt.Errorf("chromium on h%d: %w", pt.host, err)
		}
		defer b.Close()
		if res.Chromium == "" {
			res.Chromium, _ = b.Version(ctx)
		}
		p, err := b.NewPage(ctx, "")
		if err != nil {
			return res, err
		}
		if err := p.Navigate(ctx, pt.page); err != nil {
			return res, err
		}
		pages, pageParts = append(pages, p), append(pageParts, pt)
	}
	for i, p := range pages {
		if err := waitDecoded(ctx, p, 1); err != nil {
			return res, fmt.Errorf("%s: %w", pageParts[i].user, err)
		}
	}
	// Every roster complete (a page's proxy joins when its page comes).
	joinDeadline := time.Now().Add(60 * time.Second)
	for rosters() < len(parts) && time.Now().Before(joinDeadline) && ctx.Err() == nil {
		time.Sleep(250 * time.Millisecond)
	}
	res.JoinedS = round3(time.Since(lastStart).Seconds())

	if _, err := window(ctx, c.Warmup); err != nil {
		return res, err
	}

	// The window.
	type snapshot struct {
		links   []map[string]uint64
		counts  []linkCountsAt
		upload  map[string]float64
		fetched []map[string]float64
		pages   []inSample
		busy    [2]time.Duration // the machine's busy and total CPU time
	}
	take := func() (snapshot, error) {
		var s snapshot
		var err error
		for _, l := range tn.links {
			s.links = append(s.links, l.tap.Streams())
			cnt, missed := l.tap.Counts()
			s.counts = append(s.counts, linkCountsAt{cnt, missed})
		}
		if s.upload, err = scrape(pub, "stream", mPublished, mServedRing, mHeldAnswer); err != nil {
			return s, fmt.Errorf("publisher: %w", err)
		}
		for _, pt := range parts {
			if pt == pub || pt.window != "" {
				continue
			}
			f, err := scrape(pt, "", mDelivered, mLost)
			if err != nil {
				return s, fmt.Errorf("%s: %w", pt.user, err)
			}
			s.fetched = append(s.fetched, f)
		}
		for _, p := range pages {
			ps, err := readTreePage(ctx, p)
			if err != nil {
				return s, err
			}
			s.pages = append(s.pages, ps)
		}
		s.busy[0], s.busy[1], _ = machineCPU()
		return s, nil
	}
	before, err := take()
	if err != nil {
		return res, err
	}
	el, err := window(ctx, c.Duration)
	if err != nil {
		return res, err
	}
	after, err := take()
	if err != nil {
		return res, err
	}
	res.DurationS = round3(el.Seconds())
	if c.Keep { // every participant's figures beside its log
		for _, pt := range parts {
			keepMetrics(ctx, clients[pt.host], pt.metrics, filepath.Join(dir, pt.user+".metrics"))
		}
	}
	if tot := after.busy[1] - before.busy[1]; tot > 0 {
		res.HostCPU = round3(float64(after.busy[0]-before.busy[0]) / float64(tot) * 100)
	}
	res.RostersChecked = len(parts)
	res.RostersComplete = rosters()

	// The publisher.
	res.Published = map[string]float64{} // by stream id (audio, cam.h), as media names carry it
	for k, v := range after.upload {
		if name, stream := splitKey(k); name == mPublished {
			res.Published[stream] = v - before.upload[k]
		}
	}
	res.UploadByStream = uploadCopies(before.upload, after.upload)
	for _, v := range res.UploadByStream {
		res.UploadFactor = max(res.UploadFactor, v)
	}
	// The links.
	behind := func(from, to int) []string { // receivers on to's side
		var out []string
		for _, pt := range parts {
			if pt != pub && tn.nextHop(from, pt.host) == to && pt.host != from {
				out = append(out, pt.user)
			}
		}
		return out
	}
	secs := el.Seconds()
	for i, l := range tn.links {
		cnt := after.counts[i].c.Sub(before.counts[i].c)
		lr := TreeLinkResult{
			Link: fmt.Sprintf("h%d->h%d (%s->%s)", l.from, l.to, tn.hosts[l.from].kind, tn.hosts[l.to].kind),
			Away: tn.hops(l.to, pubHost) > tn.hops(l.from, pubHost),
			Kbps: kbps(cnt.Bytes, secs), MediaKbps: kbps(cnt.MediaDataBytes, secs),
			InterestKbps: kbps(cnt.InterestBytes, secs), OtherKbps: kbps(cnt.OtherNDNBytes, secs),
			Missed: after.counts[i].missed - before.counts[i].missed,
		}
		if lr.Away {
			lr.Below = behind(l.from, l.to)
		}
		if cnt.MediaData > 0 {
			lr.DupPercent = round3(float64(cnt.DupData) / float64(cnt.MediaData) * 100)
		}
		for id, n := range after.links[i] {
			if pubN := res.Published[id]; pubN > 0 {
				if lr.CopiesByStream == nil {
					lr.CopiesByStream = map[string]float64{}
				}
				cp := round3(float64(n-before.links[i][id]) / pubN)
				lr.CopiesByStream[id] = cp
				res.MaxLinkCopies = max(res.MaxLinkCopies, cp)
			}
		}
		res.Links = append(res.Links, lr)
	}
	// The bots.
	for i := range after.fetched {
		res.BotDelivered += uint64(after.fetched[i][mDelivered+"|"] - before.fetched[i][mDelivered+"|"])
		res.BotLost += uint64(after.fetched[i][mLost+"|"] - before.fetched[i][mLost+"|"])
	}
	if n := res.BotDelivered + res.BotLost; n > 0 {
		res.BotLossPct = round3(float64(res.BotLost) / float64(n) * 100)
	}
	// The pages.
	for i, pt := range pageParts {
		tp := treePageResult(before.pages[i], after.pages[i])
		tp.Page, tp.Host, tp.Hops, tp.WindowSize = pt.user, fmt.Sprintf("h%d", pt.host), tn.hops(pt.host, pubHost), pt.window
		res.Pages = append(res.Pages, tp)
	}
	// The hosts.
	res.ForwarderKind = map[string]int{}
	for _, h := range tn.hosts {
		hr := TreeHostResult{Host: fmt.Sprintf("h%d", h.i), Forwarder: h.kind, Hops: tn.hops(h.i, pubHost)}
		if p := tn.parents[h.i]; p >= 0 {
			hr.Parent = fmt.Sprintf("h%d", p)
		}
		for _, pt := range parts {
			if pt.host == h.i {
				hr.Participants = append(hr.Participants, pt.user)
			}
		}
		res.Hosts = append(res.Hosts, hr)
		res.ForwarderKind[h.kind]++
	}
	return res, nil
}

// treeDefaults fills c's defaults and checks it.
func treeDefaults(c *TreeConfig) error {
	var err error
	if c.Bin, c.Logger, err = defaults(c.Bin, c.Logger); err != nil {
		return err
	}
	if c.Routing == "" {
		c.Routing = "static"
	}
	if c.Routing != "static" && c.Routing != "dv" {
		return fmt.Errorf("bench tree: routing %q (want static or dv)", c.Routing)
	}
	if c.Parents == nil {
		c.Parents = []int{-1, 0, 0, 1, 2}
	}
	if err := validParents(c.Parents); err != nil {
		return err
	}
	if c.Forwarders == nil {
		if c.Routing == "dv" {
			c.Forwarders = slices.Repeat([]string{FwNdnd}, len(c.Parents))
		} else {
			def := []string{FwNFD, FwNdnd, FwPeets, FwPeets, FwNFD}
			for i := range c.Parents {
				c.Forwarders = append(c.Forwarders, def[i%len(def)])
			}
		}
	}
	if len(c.Forwarders) != len(c.Parents) {
		return fmt.Errorf("bench tree: %d forwarders for %d hosts", len(c.Forwarders), len(c.Parents))
	}
	for _, k := range c.Forwarders {
		switch {
		case k == FwNdnd && c.Ndnd == "":
			return fmt.Errorf("bench tree: an ndnd host needs ndnd's binary (--ndnd, or PEETS_NDND; go build -o bin/ndnd github.com/named-data/ndnd/cmd/ndnd)")
		case k == FwNFD && c.NFD == "":
			return fmt.Errorf("bench tree: an nfd host needs NFD (--nfd DIR with bin/nfd and run-nfd.sh, or PEETS_NFD; shared/tools/nfd)")
		case k != FwNdnd && c.Routing == "dv":
			return fmt.Errorf("bench tree: routing dv runs ndnd dv beside ndnd fw on every host (forwarder %q)", k)
		case k != FwNdnd && k != FwNFD && k != FwPeets:
			return fmt.Errorf("bench tree: forwarder %q (want peets, nfd or ndnd)", k)
		}
	}
	if c.Publisher == nil {
		p := min(3, len(c.Parents)-1)
		c.Publisher = &p
	}
	if *c.Publisher < 0 || *c.Publisher >= len(c.Parents) {
		return fmt.Errorf("bench tree: publisher host %d of %d", *c.Publisher, len(c.Parents))
	}
	if c.Bots == 0 && c.Pages == 0 {
		c.Bots, c.Pages = 10, 2
	}
	if c.Bots < 0 || c.Bots > 30 || c.Pages < 0 || c.Pages > 4 {
		return fmt.Errorf("bench tree: bots %d (0..30), pages %d (0..4)", c.Bots, c.Pages)
	}
	if c.Duration == 0 {
		c.Duration = 30 * time.Second
	}
	if c.Warmup == 0 {
		c.Warmup = 10 * time.Second
	}
	return nil
}

// Counters the tree reads from its participants.
const (
	mRosterMembers = "peets_roster_members"
	mDelivered     = "peets_fetcher_packets_delivered_total"
	mLost          = "peets_fetcher_packets_lost_total"
)

// linkCountsAt is a tap's counts and missed packets at one moment.
type linkCountsAt struct {
	c      linktap.Counts
	missed uint64
}

func kbps(bytes uint64, secs float64) float64 {
	if secs <= 0 {
		return 0
	}
	return round3(float64(bytes) * 8 / 1000 / secs)
}

// readTreePage reads, with the net benchmark's collector, what a page got
// from the publisher (user pub) so far, timed by the page's clock.
func readTreePage(ctx context.Context, p *cdp.Page) (inSample, error) {
	var c collected
	if err := p.Eval(ctx, collectJS, &c); err != nil {
		return inSample{}, err
	}
	return c.inbound("pub", time.Duration(c.Now*float64(time.Millisecond))), nil
}

// treePageResult compares two readings of a page.
func treePageResult(a, b inSample) TreePage {
	tp := TreePage{Width: int(b.Width), Height: int(b.Height)}
	secs := (b.At - a.At).Seconds()
	if secs <= 0 {
		return tp
	}
	tp.FPS = round3((b.Frames - a.Frames) / secs)
	tp.Freezes = b.FreezeCount - a.FreezeCount
	tp.FrozenS = round3(b.FreezeS - a.FreezeS)
	tp.Kbps = round3((b.VBytes + b.ABytes - a.VBytes - a.ABytes) * 8 / 1000 / secs)
	tp.PacketsLost = b.VLost + b.ALost - a.VLost - a.ALost
	if n := b.TotalSamples - a.TotalSamples; n > 0 {
		tp.ConcealedPct = round3((b.Concealed - a.Concealed) / n * 100)
	}
	return tp
}

// keepMetrics saves a /metrics page to file (best effort: a kept run's
// aid).
func keepMetrics(ctx context.Context, client *http.Client, url, file string) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return
	}
	resp, err := client.Do(req)
	if err != nil {
		return
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err == nil {
		_ = os.WriteFile(file, b, 0o644)
	}
}

// dialUnix connects to a unix socket.
func dialUnix(ctx context.Context, sock string) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	return (&net.Dialer{}).DialContext(ctx, "unix", sock)
}
