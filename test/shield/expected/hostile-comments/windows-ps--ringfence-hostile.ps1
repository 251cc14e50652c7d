# ringfence shield policy hostile: policy "x"; rm -rf / #\x0anext line\x5c
# Windows Defender Firewall, PowerShell NetSecurity (Windows 8 / Server 2012 or later). Run elevated,
# e.g. as a GPO startup script or from an endpoint manager.
# Profiles: Domain, Private, Public (roaming laptops stay shielded on any network).
$ErrorActionPreference = 'Stop'
Get-NetFirewallRule -Group 'ringfence-hostile' -ErrorAction SilentlyContinue | Remove-NetFirewallRule
Set-NetFirewallProfile -Profile Domain,Private,Public -Enabled True
New-NetFirewallRule -Name 'ringfence-hostile-q1-1' -DisplayName 'ringfence-hostile-q1-1' -Description 'q1: quote " single '' semi ; hash # dollar $(id) back`tick` backslash \x5c percent %PATH% bang ! caret ^ amp & pipe | lt < gt > question ? brace {x} newline\x0aafter tab\x09end smart \xe2\x80\x98quote\xe2\x80\x99 \xe2\x80\x9cdq\xe2\x80\x9d \xc3\xa9' -Group 'ringfence-hostile' -Profile Any -Direction Inbound -Action Block -Protocol TCP -LocalPort '445' -LocalAddress '203.0.113.99' -Enabled True | Out-Null
