// The dashboard's one stylesheet, served by the control plane (no third-party origin). Colours
// meet WCAG AA contrast on their backgrounds; every coloured status also carries a word and a symbol.
export const STYLE = `
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:#1b1f24;background:#f6f7f9}
header{display:flex;gap:1.5rem;align-items:center;padding:.5rem 1rem;background:#1b2a41;color:#fff;flex-wrap:wrap}
header a{color:#fff}
.brand{font-weight:700;font-size:1.1rem;text-decoration:none}
nav{display:flex;gap:1rem}
.who{margin-left:auto;display:flex;gap:.5rem;align-items:center}
main{padding:1rem 1.5rem;max-width:100%;overflow-x:auto}
h1{font-size:1.4rem;margin:.25rem 0 1rem}
h2{font-size:1.1rem;margin:1.5rem 0 .5rem}
a{color:#0b5cad}
table{border-collapse:collapse;background:#fff;margin-bottom:1rem}
th,td{border:1px solid #c9ced6;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#e8ebf0}
caption{text-align:left;padding:.25rem 0}
td.cell{min-width:9rem}
.cell div{white-space:nowrap}
.status{font-weight:600;padding:0 .3rem;border-radius:3px;white-space:nowrap}
.status.good{background:#d7f0dc;color:#14532d}
.status.warn{background:#fdecc8;color:#713f12}
.status.bad{background:#fbd5d5;color:#7f1d1d}
.status.idle{background:#e5e7eb;color:#374151}
code,pre{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12.5px}
pre{white-space:pre-wrap;word-break:break-all;margin:0}
.record{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem;background:#fff;padding:.75rem;border:1px solid #c9ced6}
.record dt{font-weight:600}
.record dd{margin:0;word-break:break-all}
.record ul{margin:0;padding-left:1rem}
form.action,form.filters,.panel{background:#fff;border:1px solid #c9ced6;padding:.6rem;margin:.5rem 0;display:flex;gap:.6rem;flex-wrap:wrap;align-items:flex-end}
label{display:flex;flex-direction:column;font-size:12.5px;gap:.15rem}
input,select,button,textarea{font:inherit;padding:.25rem .4rem}
button{background:#0b5cad;color:#fff;border:0;border-radius:3px;cursor:pointer}
.who button{background:#fff;color:#1b2a41}
.error{background:#fbd5d5;color:#7f1d1d;border:1px solid #b91c1c;padding:.6rem}
.notice{background:#e8ebf0;padding:.6rem}
.timeline{list-style:none;padding:0;border-left:3px solid #94a3b8;margin-left:.5rem}
.timeline li{padding:.3rem .75rem;margin-bottom:.3rem;background:#fff;border:1px solid #c9ced6;margin-left:.75rem}
.before{background:#fdf0f0}
.after{background:#eef8f0}
.muted{color:#4b5563}
a.button{display:inline-block;background:#0b5cad;color:#fff;padding:.35rem .7rem;border-radius:3px;text-decoration:none}
.paging{margin:.5rem 0}
`;
