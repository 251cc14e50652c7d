@echo off
rem ringfence shield policy many
rem Windows Defender Firewall, netsh advfirewall (Windows 7 / Server 2008 R2 or later). Run elevated,
rem e.g. as a GPO startup script. Rules of an earlier plan with other names are not removed (windows-ps removes them by group).
rem Profiles: Domain, Private, Public (roaming laptops stay shielded on any network).
netsh advfirewall set allprofiles state on
netsh advfirewall firewall delete rule name="ringfence-many-block-lots-1" >nul 2>&1
netsh advfirewall firewall add rule name="ringfence-many-block-lots-1" dir=in action=block profile=any protocol=tcp localport=21,23,25,53,110-111,135,137,139,143,445,593,1025,1433,4444,5000-5010,6129 localip=203.0.113.1,203.0.113.6,203.0.113.11,203.0.113.16,203.0.113.21,203.0.113.26,203.0.113.31,203.0.113.36,203.0.113.41,203.0.113.46,203.0.113.51,203.0.113.56,203.0.113.61,203.0.113.66,203.0.113.71,203.0.113.76,203.0.113.81,203.0.113.86,203.0.113.91,203.0.113.96,203.0.113.101,203.0.113.106,203.0.113.111,203.0.113.116,203.0.113.121,203.0.113.126,203.0.113.131,203.0.113.136,203.0.113.141,203.0.113.146,203.0.113.151,203.0.113.156,203.0.113.161,203.0.113.166,203.0.113.171,203.0.113.176,203.0.113.181,203.0.113.186,203.0.113.191,203.0.113.196 remoteip=any description="block-lots" enable=yes
