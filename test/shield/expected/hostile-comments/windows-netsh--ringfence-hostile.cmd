@echo off
rem ringfence shield policy hostile: policy \x22x\x22; rm -rf / #\x0anext line\x5c
rem Windows Defender Firewall, netsh advfirewall (Windows 7 / Server 2008 R2 or later). Run elevated,
rem e.g. as a GPO startup script. Rules of an earlier plan with other names are not removed (windows-ps removes them by group).
rem Profiles: Domain, Private, Public (roaming laptops stay shielded on any network).
netsh advfirewall set allprofiles state on
netsh advfirewall firewall delete rule name="ringfence-hostile-q1-1" >nul 2>&1
netsh advfirewall firewall add rule name="ringfence-hostile-q1-1" dir=in action=block profile=any protocol=tcp localport=445 localip=203.0.113.99 remoteip=any description="q1: quote \x22 single ' semi ; hash # dollar $(id) back`tick` backslash \x5c percent \x25PATH\x25 bang \x21 caret \x5e amp \x26 pipe \x7c lt \x3c gt \x3e question ? brace {x} newline\x0aafter tab\x09end smart \xe2\x80\x98quote\xe2\x80\x99 \xe2\x80\x9cdq\xe2\x80\x9d \xc3\xa9" enable=yes
