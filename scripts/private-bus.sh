#!/bin/sh
# Starts a private dbus-daemon that behaves like Debian's system bus (same default policy), with
# hostdevd's bus policy (dbus/io.hostdevd1.conf) included unless --without-policy is given; then method
# calls are open to everyone, which proves that hostdevd checks the caller itself. Used by the demo and the
# integration tests. Prints the bus address, then the daemon's PID.
#   private-bus.sh DIR [--without-policy]
set -eu
DIR=$1
TOP=$(cd "$(dirname "$0")/.." && pwd)
CALLS=deny
INCLUDE="<include>$TOP/dbus/io.hostdevd1.conf</include>"
if [ "${2:-}" = "--without-policy" ]; then
    CALLS=allow
    INCLUDE=""
fi
mkdir -p "$DIR"
cat >"$DIR/bus.conf" <<XML
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=$DIR/system_bus_socket</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <deny own="*"/>
    <$CALLS send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Introspectable"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Properties"/>
  </policy>
  <policy user="root">
    <allow own="*"/>
    <allow send_destination="*" eavesdrop="true"/>
  </policy>
  $INCLUDE
</busconfig>
XML
dbus-daemon --config-file="$DIR/bus.conf" --fork --nopidfile --print-address=1 --print-pid=1
