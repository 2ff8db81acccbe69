// The status page: one self-contained HTML document (inline style, script and
// SVG; nothing fetched from elsewhere) that listens to GET /status/events and
// draws the island. Everything that comes from the island is put into the page
// as text, never as markup. When the member that served the page stops
// answering, the page says so and follows the island through the stream of
// another member it knows from the last government.
//
// The script avoids template literals so that it can live in this one string.

export const STATUS_PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>paxos-colleague status</title>
<style>
:root { --leader: #c8860a; --parliament: #2f6fb3; --constituent: #7a8593; --bad: #c0392b; --ok: #2e8b57; --ink: #1d2430; --muted: #5c6675; --line: #dde2e8; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--ink); background: #f6f7f9; }
header { display: flex; align-items: baseline; gap: 16px; flex-wrap: wrap; padding: 14px 22px; background: #fff; border-bottom: 1px solid var(--line); }
header h1 { font-size: 18px; margin: 0; }
#connection { margin-left: auto; font-size: 13px; color: var(--muted); }
#connection.live::before { content: "\\25CF "; color: var(--ok); }
#connection.lost::before { content: "\\25CF "; color: var(--bad); }
main { display: grid; grid-template-columns: minmax(280px, 340px) 1fr; gap: 18px; padding: 18px 22px; max-width: 1400px; }
section { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 14px 16px; }
section h2 { font-size: 13px; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); margin: 0 0 10px; }
.wide { grid-column: 1 / -1; }
#banner { display: none; margin: 14px 22px 0; padding: 10px 14px; border-radius: 6px; background: #fdecea; color: #7b1d12; border: 1px solid #f3b8b0; font-weight: 600; }
#banner.shown { display: block; }
#leader-line { font-size: 20px; margin-bottom: 8px; }
#leader { color: var(--leader); font-weight: 700; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 6px 12px; margin: 0; }
dt { color: var(--muted); }
dd { margin: 0; }
.chip { display: inline-block; padding: 1px 8px; margin: 0 4px 4px 0; border-radius: 10px; background: #eef1f5; font-family: ui-monospace, monospace; font-size: 12px; }
.chip.leader { background: #fbefd5; color: #7a5000; font-weight: 700; }
.chip.exiled { background: #fdecea; color: #7b1d12; text-decoration: line-through; }
.none { color: var(--muted); }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid var(--line); white-space: nowrap; }
th { font-size: 12px; color: var(--muted); font-weight: 600; }
td.num, th.num { text-align: right; }
tr.silent td { color: var(--bad); }
.role { font-size: 12px; font-weight: 600; }
.role.leader { color: var(--leader); }
.role.parliament { color: var(--parliament); }
.role.constituent { color: var(--constituent); }
.mono { font-family: ui-monospace, monospace; font-size: 12px; }
#timeline { list-style: none; margin: 0; padding: 0; max-height: 380px; overflow: auto; }
.scroll { overflow-x: auto; }
#timeline li { padding: 3px 0; border-bottom: 1px dotted var(--line); }
#timeline time { color: var(--muted); font-family: ui-monospace, monospace; font-size: 12px; margin-right: 8px; }
.kind-elected { color: var(--leader); font-weight: 600; }
.kind-exiled, .kind-left { color: var(--bad); font-weight: 600; }
.kind-admitted, .kind-naturalized, .kind-promoted, .kind-founded, .kind-joined { color: var(--ok); font-weight: 600; }
#throughput-now { font-size: 20px; font-weight: 700; }
svg text { font-family: system-ui, sans-serif; }
@media (max-width: 800px) { main { grid-template-columns: 1fr; } }
</style>
</head>
<body>
<header>
  <h1>Island <span id="island-name">&hellip;</span></h1>
  <span id="served-by" class="mono"></span>
  <span id="connection">connecting&hellip;</span>
</header>
<div id="banner" role="alert"></div>
<main>
  <section id="government">
    <h2>Government <span id="government-number"></span></h2>
    <div id="leader-line">Leader: <span id="leader">none yet</span></div>
    <svg id="diagram" width="300" height="250" viewBox="0 0 300 250" role="img" aria-label="members of the island"></svg>
    <dl>
      <dt>Parliament</dt><dd id="parliament"></dd>
      <dt>Constituents</dt><dd id="constituents"></dd>
      <dt>Exiled</dt><dd id="exiled"></dd>
    </dl>
  </section>
  <section>
    <h2>Timeline</h2>
    <ul id="timeline"></ul>
  </section>
  <section class="wide">
    <h2>Members</h2>
    <div class="scroll">
    <table>
      <thead><tr><th>member</th><th>role</th><th>location</th><th>state</th><th class="num">commit</th><th class="num">applied</th><th class="num">lag</th><th class="num">backlog</th><th class="num">pending</th><th class="num">last heard by leader</th><th class="num">answered</th></tr></thead>
      <tbody id="members"></tbody>
    </table>
    </div>
  </section>
  <section class="wide">
    <h2>Committed entries per second</h2>
    <div><span id="throughput-now">&ndash;</span> <span class="none" id="throughput-peak"></span></div>
    <svg id="sparkline" width="100%" height="70" viewBox="0 0 600 60" preserveAspectRatio="none" role="img" aria-label="throughput over the last minute"></svg>
  </section>
</main>
<script>
(function () {
  'use strict'
  var SVG = 'http://www.w3.org/2000/svg'
  var home = location.origin
  var homeEvents = location.pathname.replace(/\\/+$/, '') + '/events'
  var homeId = null
  var last = null
  var source = null
  var lastMessageAt = 0
  var homeLostAt = null
  var homeFinal = null

  function $(id) { return document.getElementById(id) }
  function el(tag, attrs, children) {
    var node = document.createElement(tag)
    for (var key in attrs || {}) node.setAttribute(key, attrs[key])
    ;(children || []).forEach(function (child) { node.append(child instanceof Node ? child : document.createTextNode(String(child))) })
    return node
  }
  function svg(tag, attrs, text) {
    var node = document.createElementNS(SVG, tag)
    for (var key in attrs) node.setAttribute(key, String(attrs[key]))
    if (text !== undefined) node.textContent = text
    return node
  }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); return node }
  function clock(at) { return new Date(at).toLocaleTimeString([], { hour12: false }) }
  function duration(ms) {
    if (ms === null || ms === undefined) return '\\u2013'
    if (ms < 1000) return Math.round(ms) + ' ms'
    if (ms < 60000) return (ms / 1000).toFixed(1) + ' s'
    return Math.round(ms / 60000) + ' min'
  }
  function number(value) { return value === null || value === undefined ? '\\u2013' : String(value) }
  function staleMs() { return Math.max(1500, 4 * (last ? last.pingMs : 250)) }

  function connect(origin) {
    if (source) source.events.close()
    var url = origin === home ? homeEvents : origin + '/status/events'
    var events = new EventSource(url)
    var opened = { origin: origin, events: events, openedAt: Date.now() }
    source = opened
    events.onmessage = function (message) {
      if (source !== opened) return
      var view
      try { view = JSON.parse(message.data) } catch (error) { return }
      lastMessageAt = Date.now()
      receive(origin, view)
    }
    events.onerror = function () {
      if (source === opened && events.readyState === EventSource.CLOSED) failover()
    }
  }

  // The member that served the page stopped answering: try the others it named, round robin.
  function failover() {
    var from = source ? source.origin : home
    if (from === home && homeLostAt === null) homeLostAt = lastMessageAt || Date.now()
    var candidates = [home]
    if (last) last.members.forEach(function (member) {
      if (member.location && /^https?:\\/\\//.test(member.location)) {
        var origin = new URL(member.location).origin
        if (candidates.indexOf(origin) < 0) candidates.push(origin)
      }
    })
    var next = candidates[(candidates.indexOf(from) + 1) % candidates.length]
    $('connection').className = 'lost'
    $('connection').textContent = 'trying ' + next + '\\u2026'
    connect(next)
    showBanner()
  }

  setInterval(function () {
    if (!source) return
    var now = Date.now()
    if (now - Math.max(lastMessageAt, source.openedAt) > staleMs()) failover()
    else if (source.origin !== home && now - source.openedAt > 5000) probeHome()
  }, 500)

  var probing = false
  var probedAt = 0
  function probeHome() {
    if (probing || Date.now() - probedAt < 3000) return
    probing = true
    probedAt = Date.now()
    fetch(home + '/health', { cache: 'no-store' }).then(function (answer) {
      if (answer.ok) connect(home)
    }).catch(function () {}).finally(function () { probing = false })
  }

  function receive(origin, view) {
    if (origin === home) {
      if (homeId !== null && view.self.id !== homeId) homeFinal = null
      homeId = view.self.id
      homeLostAt = null
      homeFinal = view.self.state === 'crashed' || view.self.state === 'shut-down' ? view.self.state : null
    }
    last = view
    $('connection').className = 'live'
    $('connection').textContent = 'live from ' + view.self.id + (origin === home ? '' : ' (' + origin + ')')
    render(view)
    showBanner()
  }

  function showBanner() {
    var banner = $('banner')
    var name = homeId === null ? 'The member' : homeId
    var text = null
    if (homeFinal !== null) {
      text = name + ' (' + home + '), which served this page, has ' + (homeFinal === 'crashed' ? 'crashed' : 'shut down') + '.'
    } else if (homeLostAt !== null) {
      var exiled = last && last.government && homeId !== null && last.government.exiled.indexOf(homeId) >= 0
      text = name + ' (' + home + '), which served this page, is gone: no answer since ' + clock(homeLostAt) + (exiled ? '; it was exiled.' : '.')
      text += source && source.origin !== home && last && last.self.id !== homeId
        ? ' Showing the island as ' + last.self.id + ' sees it.'
        : ' Looking for another member\\u2026'
    }
    banner.className = text === null ? '' : 'shown'
    banner.textContent = text === null ? '' : text
  }

  function chips(target, ids, kind, leader) {
    clear(target)
    if (ids.length === 0) { target.append(el('span', { class: 'none' }, ['none'])); return }
    ids.forEach(function (id) {
      var attrs = { class: 'chip' + (id === leader ? ' leader' : '') + (kind === 'exiled' ? ' exiled' : '') }
      attrs['data-' + kind] = id
      target.append(el('span', attrs, [id === leader ? id + ' \\u2605 leader' : id]))
    })
  }

  function render(view) {
    $('island-name').textContent = view.islandName
    $('served-by').textContent = 'via ' + view.self.id + (view.self.location ? ' at ' + view.self.location : '')
    document.title = view.islandName + ': ' + (view.government ? 'leader ' + view.government.leader : 'no government') + ' \\u2013 paxos-colleague'
    var government = view.government
    if (government) {
      $('government-number').textContent = String(government.number)
      $('leader').textContent = government.leader
      chips($('parliament'), government.majority.concat(government.minority), 'parliament', government.leader)
      chips($('constituents'), government.constituents, 'constituent', null)
      chips($('exiled'), government.exiled.slice(-12), 'exiled', null)
    }
    renderMembers(view)
    renderDiagram(view)
    renderSparkline(view.throughput)
    renderTimeline(view.timeline)
  }

  function renderMembers(view) {
    var body = clear($('members'))
    view.members.forEach(function (member) {
      var silent = !member.answering
      var row = el('tr', { 'data-member': member.id, 'data-role': member.role, class: silent ? 'silent' : '' })
      var label = member.id + (member.self ? (source && source.origin === home ? ' (served this page)' : ' (reporting)') : '')
      row.append(
        el('td', { class: 'mono' }, [label]),
        el('td', {}, [el('span', { class: 'role ' + member.role }, [member.role === 'leader' ? '\\u2605 leader' : member.role])]),
        el('td', { class: 'mono' }, [member.location || '\\u2013']),
        el('td', {}, [silent ? 'not answering' + (member.error ? ' (' + member.error + ')' : '') : (member.state || '\\u2013')]),
        el('td', { class: 'num' }, [number(member.commit)]),
        el('td', { class: 'num' }, [number(member.applied)]),
        el('td', { class: 'num' }, [number(member.lag)]),
        el('td', { class: 'num' }, [number(member.backlog)]),
        el('td', { class: 'num' }, [number(member.pending)]),
        el('td', { class: 'num' }, [member.role === 'leader' ? 'is leader' : duration(member.heardMs) + (member.heardMs === null ? '' : ' ago')]),
        el('td', { class: 'num' }, [member.self ? 'now' : (member.answeredMs === null ? 'never' : duration(member.answeredMs) + ' ago')])
      )
      body.append(row)
    })
  }

  function renderDiagram(view) {
    var root = clear($('diagram'))
    var members = view.members
    var cx = 150, cy = 118, ring = members.length > 1 ? 82 : 0
    members.forEach(function (member, index) {
      var angle = -Math.PI / 2 + (2 * Math.PI * index) / Math.max(1, members.length)
      var x = cx + ring * Math.cos(angle), y = cy + ring * Math.sin(angle)
      var color = member.role === 'leader' ? 'var(--leader)' : member.role === 'parliament' ? 'var(--parliament)' : 'var(--constituent)'
      var group = svg('g', { 'data-member': member.id })
      group.append(svg('circle', {
        cx: x, cy: y, r: member.role === 'leader' ? 24 : 19,
        fill: member.answering ? color : '#fff',
        stroke: member.answering ? '#fff' : 'var(--bad)', 'stroke-width': 3,
        'stroke-dasharray': member.answering ? 'none' : '4 3'
      }))
      if (member.role === 'leader') group.append(svg('text', { x: x, y: y + 5, 'text-anchor': 'middle', fill: '#fff', 'font-size': 16 }, '\\u2605'))
      var name = member.id.length > 14 ? member.id.slice(0, 13) + '\\u2026' : member.id
      group.append(svg('text', { x: x, y: y + 40, 'text-anchor': 'middle', 'font-size': 12, fill: 'var(--ink)' }, name))
      group.append(svg('title', {}, member.id + ': ' + member.role + (member.answering ? '' : ', not answering')))
      root.append(group)
    })
  }

  function renderSparkline(throughput) {
    var root = clear($('sparkline'))
    var samples = throughput.perSecond
    if (samples.length === 0) { $('throughput-now').textContent = '\\u2013'; $('throughput-peak').textContent = 'measuring\\u2026'; return }
    var peak = Math.max.apply(null, samples.concat([1]))
    var step = 600 / 59
    var offset = 600 - step * (samples.length - 1)
    var points = samples.map(function (value, index) {
      return (offset + index * step).toFixed(1) + ',' + (56 - (value / peak) * 50).toFixed(1)
    })
    root.append(svg('polyline', { points: points.join(' '), fill: 'none', stroke: 'var(--parliament)', 'stroke-width': 2, 'vector-effect': 'non-scaling-stroke' }))
    $('throughput-now').textContent = Math.round(samples[samples.length - 1]) + ' /s'
    $('throughput-peak').textContent = 'peak ' + Math.round(peak) + ' /s over the last ' + samples.length + ' s'
  }

  var WORDS = {
    founded: 'founded the island and leads it', joined: 'joined: this member\\u2019s first government',
    elected: 'elected leader', exiled: 'exiled', admitted: 'admitted', naturalized: 'naturalized (holds the state)',
    promoted: 'promoted into parliament', demoted: 'moved out of parliament', left: 'left the island'
  }
  function renderTimeline(events) {
    var list = clear($('timeline'))
    events.slice().reverse().forEach(function (event) {
      list.append(el('li', { 'data-kind': event.kind, 'data-id': event.id }, [
        el('time', {}, [clock(event.at)]),
        el('span', { class: 'mono' }, [event.id]), ' ',
        el('span', { class: 'kind-' + event.kind }, [WORDS[event.kind] || event.kind]),
        el('span', { class: 'none' }, [' (government ' + event.government + ')'])
      ]))
    })
  }

  connect(home)
})()
</script>
</body>
</html>
`
