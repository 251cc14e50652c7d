# ringfence shield policy host-basic: MS03-026 shield for two hosts
# Windows Defender Firewall, PowerShell NetSecurity (Windows 8 / Server 2012 or later). Run elevated,
# e.g. as a GPO startup script or from an endpoint manager.
# Profiles: Domain, Private, Public (roaming laptops stay shielded on any network).
$ErrorActionPreference = 'Stop'
Get-NetFirewallRule -Group 'ringfence-host-basic' -ErrorAction SilentlyContinue | Remove-NetFirewallRule
Set-NetFirewallProfile -Profile Domain,Private,Public -Enabled True
New-NetFirewallRule -Name 'ringfence-host-basic-allow-mgmt-1' -DisplayName 'ringfence-host-basic-allow-mgmt-1' -Description 'allow-mgmt: management keeps 445' -Group 'ringfence-host-basic' -Profile Any -Direction Inbound -Action Allow -Protocol TCP -LocalPort '445' -LocalAddress '203.0.113.10/31' -RemoteAddress '10.9.0.0/24' -Enabled True | Out-Null
New-NetFirewallRule -Name 'ringfence-host-basic-block-in-1' -DisplayName 'ringfence-host-basic-block-in-1' -Description 'block-in: MS03-026 ports' -Group 'ringfence-host-basic' -Profile Any -Direction Inbound -Action Block -Protocol TCP -LocalPort '135','139','445','593','4444' -LocalAddress '203.0.113.10/31' -RemoteAddress '0.0.0.0-10.8.255.255','10.9.1.0-255.255.255.255','::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff' -Enabled True | Out-Null
New-NetFirewallRule -Name 'ringfence-host-basic-block-in-2' -DisplayName 'ringfence-host-basic-block-in-2' -Description 'block-in: MS03-026 ports' -Group 'ringfence-host-basic' -Profile Any -Direction Inbound -Action Block -Protocol UDP -LocalPort '69','135','137-138','445' -LocalAddress '203.0.113.10/31' -Enabled True | Out-Null
New-NetFirewallRule -Name 'ringfence-host-basic-block-in-3' -DisplayName 'ringfence-host-basic-block-in-3' -Description 'block-in: MS03-026 ports' -Group 'ringfence-host-basic' -Profile Any -Direction Inbound -Action Block -Protocol TCP -LocalPort '135','139','593','4444' -LocalAddress '203.0.113.10/31' -RemoteAddress '10.9.0.0/24' -Enabled True | Out-Null
New-NetFirewallRule -Name 'ringfence-host-basic-block-out-1' -DisplayName 'ringfence-host-basic-block-out-1' -Description 'block-out: worm propagation' -Group 'ringfence-host-basic' -Profile Any -Direction Outbound -Action Block -Protocol TCP -RemotePort '135','4444' -LocalAddress '203.0.113.10/31' -Enabled True | Out-Null
