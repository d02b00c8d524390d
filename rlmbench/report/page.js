(function(){
var selects=[].slice.call(document.querySelectorAll('[data-filter]'));
var runs=[].slice.call(document.querySelectorAll('details.run'));
var shown=document.getElementById('shown');
function apply(){var n=0;runs.forEach(function(r){var ok=selects.every(function(s){
return !s.value||r.dataset[s.dataset.filter]===s.value;});r.hidden=!ok;if(ok)n++;});
shown.textContent=n+' of '+runs.length+' runs shown';}
selects.forEach(function(s){s.addEventListener('change',apply);});
document.getElementById('expand').addEventListener('click',function(){runs.forEach(function(r){if(!r.hidden)r.open=true;});});
document.getElementById('collapse').addEventListener('click',function(){runs.forEach(function(r){r.open=false;});});
document.addEventListener('mouseover',function(ev){var td=ev.target;if(td.tagName!=='TD')return;
var table=td.closest('table.grid');if(!table||!td.className)return;var tr=td.parentNode;
var col=table.tHead.rows[0].cells[td.cellIndex];var row=tr.cells[0];
var what=td.classList.contains('c')?'checked':'never checked';
var m=/\bs([0-3])\b/.exec(td.className);if(m)what+=', a finding ('+table.dataset.sev.split(',')[m[1]]+')';if(td.classList.contains('r'))what+=', reported';
if(td.classList.contains('l'))what+=', lost: its call failed and was never made again';
if(td.classList.contains('f'))what+=', follow-up made';if(td.classList.contains('fm'))what+=', follow-up missed';
table.parentNode.querySelector('.hover').textContent=row.textContent+' + '+col.textContent+': '+what;});
function openHash(){var r=location.hash&&document.getElementById(location.hash.slice(1));
if(r&&r.tagName==="DETAILS")r.open=true;}
window.addEventListener('hashchange',openHash);
apply();openHash();
})();
