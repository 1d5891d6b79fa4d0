/** The dashboard page's stylesheet, inlined into the page (one request, allowed by its hash in the Content-Security-Policy). */

/**
 * The page's CSS. Kept small: the page loads nothing else but its script.
 *
 * @example
 * `<style>${STYLE}</style>`
 */
export const STYLE = `
:root{--bg:#f6f7fb;--panel:#fff;--ink:#1f2430;--muted:#6b7280;--line:#e4e7ee;--accent:#4f46e5;--ok:#0f7b4f;--ok-soft:#e3f6ec;--bad:#b42318;--bad-soft:#fdecea;--warn:#b26b00;--warn-soft:#fff3dc;--grey-soft:#eef0f3;--mono:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;--sans:system-ui,-apple-system,'Segoe UI',Roboto,Arial,sans-serif}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 var(--sans);color:var(--ink);background:var(--bg)}
header{display:flex;align-items:center;gap:14px;flex-wrap:wrap;padding:12px 24px;background:var(--panel);border-bottom:1px solid var(--line)}
h1{margin:0;font-size:17px}
h2{margin:0 0 8px;font-size:14px}
.muted,.note{color:var(--muted)}
.note{font-size:12.5px;margin:6px 0 0}
.spacer{flex:1}
.pill{display:inline-flex;align-items:center;gap:6px;padding:3px 10px;border-radius:999px;font-size:12.5px;font-weight:600;background:var(--grey-soft);color:var(--muted)}
.pill.ok{background:var(--ok-soft);color:var(--ok)}
.pill.bad{background:var(--bad-soft);color:var(--bad)}
.pill.warn{background:var(--warn-soft);color:var(--warn)}
main{padding:16px 24px 24px;display:grid;gap:16px}
.panel{background:var(--panel);border:1px solid var(--line);border-radius:10px;padding:14px 16px}
.counts{display:grid;grid-template-columns:repeat(auto-fit,minmax(130px,1fr));gap:12px}
.count{background:var(--panel);border:1px solid var(--line);border-radius:10px;padding:10px 14px}
.count span{display:block;color:var(--muted);font-size:12.5px}
.count strong{font-size:22px;font-variant-numeric:tabular-nums}
.count.dead strong{color:var(--bad)}
.row{display:grid;grid-template-columns:minmax(260px,1fr) 2fr;gap:16px}
#state{font-size:16px;font-weight:600;margin:0}
#workers{list-style:none;padding:0;margin:8px 0 0;font-size:12.5px;color:var(--muted)}
#workers code{color:var(--ink)}
svg{width:100%;height:170px;display:block}
.legend{display:flex;gap:14px;font-size:12.5px;color:var(--muted)}
.legend i{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:5px}
.delivered{fill:#16a34a;background:#16a34a}
.retried{fill:#f59e0b;background:#f59e0b}
.dead-bar{fill:#dc2626;background:#dc2626}
.axis{fill:var(--muted);font-size:11px}
.grid{stroke:var(--line)}
.tools{display:flex;flex-wrap:wrap;gap:8px;align-items:center;margin-bottom:10px}
.tools h2{margin:0 8px 0 0}
input,select,button{font:inherit;font-size:13px;border:1px solid var(--line);border-radius:6px;padding:5px 9px;background:var(--panel);color:var(--ink)}
button{cursor:pointer}
button:hover:not(:disabled){background:var(--grey-soft)}
button:disabled{opacity:.45;cursor:default}
button.danger{color:var(--bad)}
table{border-collapse:collapse;width:100%;font-size:13px;table-layout:fixed}
th:nth-child(1){width:15%}th:nth-child(2){width:17%}th:nth-child(3),th:nth-child(4){width:6%}th:nth-child(5),th:nth-child(6){width:9%}th:nth-child(8){width:12%}
th{text-align:left;color:var(--muted);font-weight:600;font-size:12px;padding:6px 8px;border-bottom:1px solid var(--line)}
td{padding:7px 8px;border-bottom:1px solid var(--line);vertical-align:top}
td.num{font-variant-numeric:tabular-nums}
td.time{font-variant-numeric:tabular-nums}
td{overflow-wrap:anywhere}
td code{font-family:var(--mono);font-size:12px;overflow-wrap:anywhere;white-space:pre-wrap;color:#374151;display:-webkit-box;-webkit-line-clamp:4;-webkit-box-orient:vertical;overflow:hidden}
td.actions{white-space:nowrap}
.reason{display:inline-block;padding:1px 8px;border-radius:999px;background:var(--bad-soft);color:var(--bad);font-weight:600;font-size:12px}
.pager{display:flex;gap:8px;justify-content:flex-end;margin-top:10px}
#notice{min-height:1.4em;margin:0 0 8px;font-weight:600}
#notice.bad{color:var(--bad)}
#notice.ok{color:var(--ok)}
#error{display:none;background:var(--bad-soft);color:var(--bad);padding:8px 24px;font-weight:600}
#error.shown{display:block}
dialog{border:1px solid var(--line);border-radius:10px;padding:18px 20px;max-width:440px}
dialog::backdrop{background:#1f243055}
dialog div{display:flex;justify-content:flex-end;gap:8px;margin-top:14px}
@media (max-width:900px){.row{grid-template-columns:1fr}}
`
