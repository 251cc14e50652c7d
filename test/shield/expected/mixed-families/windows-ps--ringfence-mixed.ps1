# ringfence shield policy mixed
# Windows Defender Firewall, PowerShell NetSecurity (Windows 8 / Server 2012 or later). Run elevated,
# e.g. as a GPO startup script or from an endpoint manager.
# Profiles: Domain, Private, Public (roaming laptops stay shielded on any network).
$ErrorActionPreference = 'Stop'
Get-NetFirewallRule -Group 'ringfence-mixed' -ErrorAction SilentlyContinue | Remove-NetFirewallRule
Set-NetFirewallProfile -Profile Domain,Private,Public -Enabled True -DefaultInboundAction Block
New-NetFirewallRule -Name 'ringfence-mixed-lan6-web-1' -DisplayName 'ringfence-mixed-lan6-web-1' -Description 'lan6-web' -Group 'ringfence-mixed' -Profile Any -Direction Inbound -Action Allow -Protocol TCP -LocalPort '80','443' -LocalAddress '203.0.113.20','2001:db8::20/127' -RemoteAddress 'fd00:1::/64' -Enabled True | Out-Null
New-NetFirewallRule -Name 'ringfence-mixed-web-any-1' -DisplayName 'ringfence-mixed-web-any-1' -Description 'web-any' -Group 'ringfence-mixed' -Profile Any -Direction Inbound -Action Allow -Protocol TCP -LocalPort '80','443' -LocalAddress '203.0.113.20','203.0.113.30-203.0.113.37','2001:db8::20/127' -Enabled True | Out-Null
New-NetFirewallRule -Name 'ringfence-mixed-netbios-1' -DisplayName 'ringfence-mixed-netbios-1' -Description 'netbios' -Group 'ringfence-mixed' -Profile Any -Direction Inbound -Action Block -Protocol UDP -LocalPort '137-139' -RemoteAddress '198.51.100.0/24','2001:db8:100::/48' -Enabled True | Out-Null
New-NetFirewallRule -Name 'ringfence-mixed-high-ports-1' -DisplayName 'ringfence-mixed-high-ports-1' -Description 'high-ports' -Group 'ringfence-mixed' -Profile Any -Direction Inbound -Action Allow -Protocol TCP -LocalPort '1024-65535' -Enabled True | Out-Null
