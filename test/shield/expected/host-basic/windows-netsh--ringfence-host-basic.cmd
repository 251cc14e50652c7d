@echo off
rem ringfence shield policy host-basic: MS03-026 shield for two hosts
rem Windows Defender Firewall, netsh advfirewall (Windows 7 / Server 2008 R2 or later). Run elevated,
rem e.g. as a GPO startup script. Rules of an earlier plan with other names are not removed (windows-ps removes them by group).
rem Profiles: Domain, Private, Public (roaming laptops stay shielded on any network).
netsh advfirewall set allprofiles state on
netsh advfirewall firewall delete rule name="ringfence-host-basic-allow-mgmt-1" >nul 2>&1
netsh advfirewall firewall add rule name="ringfence-host-basic-allow-mgmt-1" dir=in action=allow profile=any protocol=tcp localport=445 localip=203.0.113.10/31 remoteip=10.9.0.0/24 description="allow-mgmt: management keeps 445" enable=yes
netsh advfirewall firewall delete rule name="ringfence-host-basic-block-in-1" >nul 2>&1
netsh advfirewall firewall add rule name="ringfence-host-basic-block-in-1" dir=in action=block profile=any protocol=tcp localport=135,139,445,593,4444 localip=203.0.113.10/31 remoteip=0.0.0.0-10.8.255.255,10.9.1.0-255.255.255.255,::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff description="block-in: MS03-026 ports" enable=yes
netsh advfirewall firewall delete rule name="ringfence-host-basic-block-in-2" >nul 2>&1
netsh advfirewall firewall add rule name="ringfence-host-basic-block-in-2" dir=in action=block profile=any protocol=udp localport=69,135,137-138,445 localip=203.0.113.10/31 remoteip=any description="block-in: MS03-026 ports" enable=yes
netsh advfirewall firewall delete rule name="ringfence-host-basic-block-in-3" >nul 2>&1
netsh advfirewall firewall add rule name="ringfence-host-basic-block-in-3" dir=in action=block profile=any protocol=tcp localport=135,139,593,4444 localip=203.0.113.10/31 remoteip=10.9.0.0/24 description="block-in: MS03-026 ports" enable=yes
netsh advfirewall firewall delete rule name="ringfence-host-basic-block-out-1" >nul 2>&1
netsh advfirewall firewall add rule name="ringfence-host-basic-block-out-1" dir=out action=block profile=any protocol=tcp remoteport=135,4444 localip=203.0.113.10/31 remoteip=any description="block-out: worm propagation" enable=yes
