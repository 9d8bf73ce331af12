#!/bin/sh
# Install CoCM Desktop on Linux from the unpacked bundle folder this script sits in.
#
#   ./install.sh              for this user:   ~/.local/opt/cocm-desktop, menu entry, ~/.local/bin link
#   sudo ./install.sh --system for everyone:    /opt/cocm-desktop, /usr/share/applications, /usr/local/bin
#   ./install.sh --uninstall [--system]        remove the program (never the clinic data)
#
# Clinic data (databases, key files, backups) lives in ~/.local/share/cocm-desktop or wherever the
# clinic keeps it; this script never touches it.
set -eu

APP=cocm-desktop
HERE=$(cd "$(dirname "$0")" && pwd)
SYSTEM=0
UNINSTALL=0
for arg in "$@"; do
    case "$arg" in
        --system) SYSTEM=1 ;;
        --uninstall) UNINSTALL=1 ;;
        *) echo "usage: $0 [--system] [--uninstall]" >&2; exit 2 ;;
    esac
done

if [ "$SYSTEM" = 1 ]; then
    PREFIX=/opt/$APP
    BIN=/usr/local/bin
    SHARE=/usr/share
else
    PREFIX=$HOME/.local/opt/$APP
    BIN=$HOME/.local/bin
    SHARE=${XDG_DATA_HOME:-$HOME/.local/share}
fi
APPS=$SHARE/applications
ICON=$SHARE/icons/hicolor/scalable/apps/$APP.svg

refresh_menus() {
    command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database -q "$APPS" 2>/dev/null || true
    command -v gtk-update-icon-cache >/dev/null 2>&1 && gtk-update-icon-cache -q "$SHARE/icons/hicolor" 2>/dev/null || true
}

if [ "$UNINSTALL" = 1 ]; then
    rm -rf "$PREFIX"
    rm -f "$APPS/$APP.desktop" "$ICON"
    if [ -L "$BIN/$APP" ]; then rm -f "$BIN/$APP"; fi
    refresh_menus
    echo "CoCM Desktop removed. Clinic data was not touched (see ~/.local/share/$APP)."
    exit 0
fi

[ -x "$HERE/$APP" ] || { echo "Run this script from the unpacked $APP folder." >&2; exit 1; }

# Check the bundle before installing it; a headless session checks with the offscreen platform.
if [ -z "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then export QT_QPA_PLATFORM="${QT_QPA_PLATFORM:-offscreen}"; fi
"$HERE/$APP" --self-check

if [ "$HERE" != "$PREFIX" ]; then
    mkdir -p "$(dirname "$PREFIX")"
    rm -rf "$PREFIX.new"
    cp -a "$HERE" "$PREFIX.new"
    rm -rf "$PREFIX"
    mv "$PREFIX.new" "$PREFIX"
fi
mkdir -p "$BIN" "$APPS" "$(dirname "$ICON")"
ln -sf "$PREFIX/$APP" "$BIN/$APP"
cp "$PREFIX/_internal/resources/icons/$APP.svg" "$ICON"
sed -e "s|^Exec=.*|Exec=$PREFIX/$APP|" -e "s|^TryExec=.*|TryExec=$PREFIX/$APP|" \
    "$PREFIX/$APP.desktop" > "$APPS/$APP.desktop"
chmod 644 "$APPS/$APP.desktop" "$ICON"
refresh_menus
echo "CoCM Desktop installed in $PREFIX; start it from the applications menu or with '$APP'."
