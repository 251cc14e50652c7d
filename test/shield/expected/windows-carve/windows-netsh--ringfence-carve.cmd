@echo off
rem ringfence shield policy carve
rem Windows Defender Firewall, netsh advfirewall (Windows 7 / Server 2008 R2 or later). Run elevated,
rem e.g. as a GPO startup script. Rules of an earlier plan with other names are not removed (windows-ps removes them by group).
rem Profiles: Domain, Private, Public (roaming laptops stay shielded on any network).
netsh advfirewall set allprofiles state on
netsh advfirewall firewall delete rule name="ringfence-carve-mgmt-rdp-1" >nul 2>&1
netsh advfirewall firewall add rule name="ringfence-carve-mgmt-rdp-1" dir=in action=allow profile=any protocol=tcp localport=3389 localip=203.0.113.5 remoteip=10.9.0.0/24 description="mgmt-rdp" enable=yes
netsh advfirewall firewall delete rule name="ringfence-carve-no-tcp-1" >nul 2>&1
netsh advfirewall firewall add rule name="ringfence-carve-no-tcp-1" dir=in action=block profile=any protocol=tcp localip=203.0.113.5 remoteip=0.0.0.0-10.8.255.255,10.9.1.0-255.255.255.255,::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff description="no-tcp" enable=yes
netsh advfirewall firewall delete rule name="ringfence-carve-no-tcp-2" >nul 2>&1
netsh advfirewall firewall add rule name="ringfence-carve-no-tcp-2" dir=in action=block profile=any protocol=tcp localport=0-3388,3390-65535 localip=203.0.113.5 remoteip=10.9.0.0/24 description="no-tcp" enable=yes
