//! The page's style sheet and its one script, inlined and allowed by hash in the page's
//! Content-Security-Policy.

pub(super) const STYLE: &str = r#"
:root{--fg:#1f2328;--muted:#59636e;--bg:#fff;--panel:#f6f8fa;--line:#d1d9e0;--flagged:#c62828;--declared:#1f5fbf;--allowed:#9a6700;--local:#6e7781;--ok:#1a7f37;--ctx:#afb8c1}
@media (prefers-color-scheme:dark){:root{--fg:#e6edf3;--muted:#9198a1;--bg:#0d1117;--panel:#151b23;--line:#3d444d;--flagged:#f85149;--declared:#4493f8;--allowed:#d29922;--local:#9198a1;--ok:#3fb950;--ctx:#59636e}}
html{background:var(--bg);color:var(--fg)}
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI","DejaVu Sans",Roboto,sans-serif;max-width:1120px;margin:0 auto;padding:20px 24px 48px}
code,pre,.mono{font-family:ui-monospace,"DejaVu Sans Mono",Menlo,Consolas,monospace;font-size:.88em}
pre{background:var(--panel);border:1px solid var(--line);border-radius:6px;padding:10px 12px;white-space:pre-wrap;overflow-wrap:anywhere}
h1{font-size:1.35em;margin:0;font-weight:600}
h2{font-size:1.2em;margin:1.6em 0 .5em;padding-bottom:.2em;border-bottom:2px solid var(--line)}
h3{font-size:1.02em;margin:1.1em 0 .35em}
header{border-bottom:2px solid var(--line);padding-bottom:10px}
.verdict{font-size:1.7em;font-weight:700;margin:.15em 0 .1em;line-height:1.2}
.verdict.bad{color:var(--flagged)}
.verdict.good{color:var(--ok)}
.sub{color:var(--muted);margin:0}
.muted{color:var(--muted)}
.nw{white-space:nowrap}
.consent{display:grid;grid-template-columns:max-content 1fr;gap:3px 14px;margin:12px 0 0}
.consent dt,.facts dt{color:var(--muted);font-weight:600}
.consent dd,.facts dd{margin:0;overflow-wrap:anywhere}
.on{color:var(--flagged);font-weight:700}
.off{color:var(--declared);font-weight:700}
.warn{border-left:4px solid var(--allowed);background:var(--panel);padding:6px 12px;margin:10px 0}
nav{margin:12px 0 0;font-size:.9em}
nav a{color:var(--declared);text-decoration:none;margin-right:14px;white-space:nowrap}
.flows{display:grid;grid-template-columns:repeat(auto-fill,minmax(480px,1fr));gap:12px}
.flow{border:1px solid var(--line);border-left:5px solid var(--flagged);border-radius:6px;padding:8px 14px 10px;background:var(--panel)}
.flow h3{margin:.1em 0 .3em;overflow-wrap:anywhere}
.why{margin:.2em 0 .5em}
.facts{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px;margin:0;font-size:.92em}
.facts ul{margin:0;padding-left:1.1em}
.tag{display:inline-block;font-size:.78em;font-weight:600;padding:0 7px;border-radius:9px;border:1px solid currentColor;vertical-align:2px;margin-left:4px}
.t-flagged{color:var(--flagged)}.t-declared{color:var(--declared)}.t-allowed{color:var(--allowed)}.t-local{color:var(--local)}
.t-new{color:var(--allowed)}
.t-class{color:var(--muted)}
table.classes a{color:var(--declared)}
.rules{margin:.2em 0 .6em;padding-left:1.2em}
table{border-collapse:collapse;width:100%;font-size:.9em;margin:.3em 0 .8em}
th,td{border-bottom:1px solid var(--line);padding:3px 8px;text-align:left;vertical-align:top;overflow-wrap:anywhere}
th{font-weight:600;color:var(--muted);border-bottom-width:2px}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.js table.sortable th{cursor:pointer;user-select:none}
.js table.sortable th:hover{color:var(--fg)}
th[aria-sort=ascending]::after{content:" \25B2"}
th[aria-sort=descending]::after{content:" \25BC"}
figure{margin:1em 0 1.4em}
figcaption{font-weight:600;margin-bottom:.3em}
svg{width:100%;height:auto;display:block}
svg text{fill:var(--fg);font:12px system-ui,"DejaVu Sans",sans-serif}
svg .axis{stroke:var(--line);stroke-width:1}
svg .grid{stroke:var(--line);stroke-width:1;stroke-dasharray:2 3}
svg .muted{fill:var(--muted)}
.f-flagged{fill:var(--flagged)}.f-declared{fill:var(--declared)}.f-allowed{fill:var(--allowed)}.f-local{fill:var(--local)}.f-ctx{fill:var(--ctx)}
table.fixed{table-layout:fixed}
.c-id{width:5%}.c-remote{width:19%}.c-name{width:33%}.c-proto{width:10%}.c-bytes{width:8%}.c-rule{width:17%}
table.classed .c-name{width:25%}table.classed .c-rule{width:13%}.c-class{width:12%}
td.ts{font-family:ui-monospace,"DejaVu Sans Mono",Menlo,Consolas,monospace;font-size:.8em;white-space:nowrap}
.cols{columns:2 340px;column-gap:28px}
.cols table{break-inside:avoid}
footer{margin-top:2em;color:var(--muted);font-size:.85em}
@media print{
:root{--fg:#000;--muted:#444;--bg:#fff;--panel:#fff;--line:#999;--flagged:#b00020;--declared:#1f4fa0;--allowed:#8a5a00;--local:#555;--ok:#1a6b30;--ctx:#aaa}
body{max-width:none;padding:0;font-size:10pt}
nav{display:none}
.flows{display:block}
.flow{margin:0 0 8px}
tr,.flow,figure,.warn,pre,dl{break-inside:avoid}
thead{display:table-header-group}
h2,h3{break-after:avoid}
a{color:inherit;text-decoration:none}
}
"#;

pub(super) const SCRIPT: &str = r#"
(function(){
document.documentElement.classList.add('js');
function key(row,i){var c=row.cells[i];if(!c)return '';var v=c.getAttribute('data-v');return v!==null?Number(v):c.textContent.trim().toLowerCase();}
function sortBy(th){
var table=th.closest('table'),body=table.tBodies[0];if(!body)return;
var i=Array.prototype.indexOf.call(th.parentNode.children,th);
var dir=th.getAttribute('aria-sort')==='ascending'?-1:1;
Array.prototype.forEach.call(th.parentNode.children,function(h){h.removeAttribute('aria-sort');});
th.setAttribute('aria-sort',dir===1?'ascending':'descending');
var rows=Array.prototype.slice.call(body.rows);
rows.sort(function(a,b){var x=key(a,i),y=key(b,i);return (x<y?-1:x>y?1:0)*dir;});
rows.forEach(function(r){body.appendChild(r);});
}
Array.prototype.forEach.call(document.querySelectorAll('table.sortable th'),function(th){
th.tabIndex=0;th.title='Sort by this column';
th.addEventListener('click',function(){sortBy(th);});
th.addEventListener('keydown',function(e){if(e.key==='Enter'||e.key===' '){e.preventDefault();sortBy(th);}});
});
})();
"#;
