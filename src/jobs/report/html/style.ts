/** The page's one style sheet, inline: readable on a phone (one column), two columns of charts on a wide screen, colours kept in print. */
export const STYLE = `
:root { --green: #1a7f37; --amber: #9a6700; --red: #cf222e; --grey: #6e7781; --ink: #1f2328; --line: #d0d7de; --soft: #f6f8fa;
  --ok: #2da44e; --warn: #d4a72c; --bad: #cf222e; font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink); }
* { box-sizing: border-box; }
body { margin: 0 auto; padding: 1rem; max-width: 72rem; line-height: 1.4; -webkit-print-color-adjust: exact; print-color-adjust: exact; }
h1 { font-size: 1.5rem; margin: 0 0 .25rem; }
h2 { font-size: 1.25rem; margin: 0; display: flex; gap: .5rem; align-items: center; flex-wrap: wrap; }
h3 { font-size: 1.05rem; margin: 0 0 .5rem; display: flex; gap: .5rem; align-items: center; flex-wrap: wrap; }
h4 { font-size: .9rem; margin: .75rem 0 .25rem; color: #424a53; }
code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: .85em; }
pre { background: var(--soft); border: 1px solid var(--line); border-radius: 6px; padding: .5rem; white-space: pre-wrap; overflow-wrap: anywhere; }
.meta { color: #57606a; font-size: .9rem; margin: 0; overflow-wrap: anywhere; }
.badge { display: inline-block; white-space: nowrap; border-radius: 1rem; padding: 0 .6rem; font-size: .8rem; font-weight: 600; color: #fff; letter-spacing: .03em; }
.badge.green { background: var(--green); } .badge.amber { background: var(--amber); } .badge.red { background: var(--red); } .badge.grey { background: var(--grey); }
.overview { width: 100%; border-collapse: collapse; margin: 1rem 0; font-size: .9rem; }
.overview th, .overview td { text-align: left; padding: .3rem .4rem; border-bottom: 1px solid var(--line); vertical-align: top; }
.overview td:first-child { overflow-wrap: anywhere; }
.environment { border: 1px solid var(--line); border-left-width: 6px; border-radius: 8px; padding: .75rem; margin: 1rem 0; }
.environment.green { border-left-color: var(--green); } .environment.amber { border-left-color: var(--amber); }
.environment.red { border-left-color: var(--red); } .environment.grey { border-left-color: var(--grey); }
.kind { border-top: 1px solid var(--line); margin-top: .75rem; padding-top: .75rem; }
.facts { display: grid; grid-template-columns: max-content 1fr; gap: .15rem .75rem; margin: 0; font-size: .9rem; }
.facts dt { color: #57606a; } .facts dd { margin: 0; overflow-wrap: anywhere; }
.findings { margin: .5rem 0; padding-left: 1.2rem; font-size: .88rem; }
.findings li { overflow-wrap: anywhere; } .findings .red { color: var(--red); } .findings .amber { color: var(--amber); }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(100%, 26rem), 1fr)); gap: .5rem 1.25rem; }
.charts > figure { margin: 0; break-inside: avoid; } figcaption { font-size: .85rem; color: #424a53; }
svg.chart { width: 100%; height: auto; display: block; font-size: 12px; }
.tick { fill: #57606a; } .grid { stroke: #eaeef2; } .frame { fill: #fff; stroke: var(--line); }
.outside { fill: #eaeef2; } .gap { fill: #ffd8d3; }
.pt.complete { fill: var(--ok); } .pt.incomplete { fill: var(--warn); } .pt.corrupt { fill: var(--bad); }
.bar { fill: none; } .bar.complete { stroke: var(--ok); } .bar.incomplete { stroke: var(--warn); } .bar.corrupt { stroke: var(--bad); }
.line { fill: none; stroke-width: 1.6; } .area { fill: #ddf4ff; }
.marker { fill: var(--bad); stroke: #fff; stroke-width: .8; }
.s0 { --c: #0969da; } .s1 { --c: #8250df; } .s2 { --c: #bf3989; } .s3 { --c: #1a7f37; }
.s4 { --c: #9a6700; } .s5 { --c: #0a3069; } .s6 { --c: #bc4c00; } .s7 { --c: #57606a; }
.line { stroke: var(--c); } .legend span { border-color: var(--c); }
.legend { list-style: none; padding: 0; margin: .25rem 0; display: flex; flex-wrap: wrap; gap: .25rem .75rem; font-size: .8rem; }
.legend span { display: inline-block; width: .9rem; height: .25rem; border-top: 3px solid var(--c); vertical-align: middle; margin-right: .25rem; }
.key { font-size: .8rem; color: #57606a; }
.key i { display: inline-block; width: .6rem; height: .6rem; border-radius: 50%; margin: 0 .2rem 0 .6rem; vertical-align: middle; }
.key .complete { background: var(--ok); } .key .incomplete { background: var(--warn); } .key .corrupt { background: var(--bad); }
.key .gap { background: #ffd8d3; border-radius: 0; }
table.backups { border-collapse: collapse; font-size: .8rem; width: 100%; }
table.backups th, table.backups td { text-align: left; padding: .15rem .3rem; border-bottom: 1px solid #eaeef2; overflow-wrap: anywhere; }
table.backups td.num { text-align: right; white-space: nowrap; }
.wide { overflow-x: auto; }
details summary { cursor: pointer; font-size: .9rem; margin: .5rem 0; }
.about { font-size: .88rem; color: #424a53; }
@media (max-width: 40rem) { body { padding: .5rem; } .facts { grid-template-columns: 1fr; } .facts dt { margin-top: .3rem; } .hide-narrow { display: none; } }
@media print { body { max-width: none; padding: 0; } .environment { break-inside: auto; } .charts { grid-template-columns: 1fr 1fr; } pre { white-space: pre-wrap; } }
`;
