# ringfence shield policy carve
# Windows Defender Firewall, PowerShell NetSecurity (Windows 8 / Server 2012 or later). Run elevated,
# e.g. as a GPO startup script or from an endpoint manager.
# Profiles: Domain, Private, Public (roaming laptops stay shielded on any network).
$ErrorActionPreference = 'Stop'
Get-NetFirewallRule -Group 'ringfence-carve' -ErrorAction SilentlyContinue | Remove-NetFirewallRule
Set-NetFirewallProfile -Profile Domain,Private,Public -Enabled True
New-NetFirewallRule -Name 'ringfence-carve-mgmt-rdp-1' -DisplayName 'ringfence-carve-mgmt-rdp-1' -Description 'mgmt-rdp' -Group 'ringfence-carve' -Profile Any -Direction Inbound -Action Allow -Protocol TCP -LocalPort '3389' -LocalAddress '203.0.113.5' -RemoteAddress '10.9.0.0/24' -Enabled True | Out-Null
New-NetFirewallRule -Name 'ringfence-carve-no-tcp-1' -DisplayName 'ringfence-carve-no-tcp-1' -Description 'no-tcp' -Group 'ringfence-carve' -Profile Any -Direction Inbound -Action Block -Protocol TCP -LocalAddress '203.0.113.5' -RemoteAddress '0.0.0.0-10.8.255.255','10.9.1.0-255.255.255.255','::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff' -Enabled True | Out-Null
New-NetFirewallRule -Name 'ringfence-carve-no-tcp-2' -DisplayName 'ringfence-carve-no-tcp-2' -Description 'no-tcp' -Group 'ringfence-carve' -Profile Any -Direction Inbound -Action Block -Protocol TCP -LocalPort '0-3388','3390-65535' -LocalAddress '203.0.113.5' -RemoteAddress '10.9.0.0/24' -Enabled True | Out-Null
