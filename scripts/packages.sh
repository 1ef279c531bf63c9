# Sourced by tapegrad's scripts: `install_missing_packages <caller> <package>...` installs with
# apt-get the Debian packages that are not installed yet (through sudo when not root), so a
# second run touches nothing.
install_missing_packages() {
  local caller=$1
  shift
  local missing=() package status
  for package in "$@"; do
    status=$(dpkg-query -W -f='${db:Status-Status}' "$package" 2>/dev/null || true)
    [[ "$status" == installed ]] || missing+=("$package")
  done
  ((${#missing[@]} > 0)) || return 0
  echo "$caller: installing ${missing[*]}"
  local as_root=()
  if ((EUID != 0)); then as_root=(sudo); fi
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
}
