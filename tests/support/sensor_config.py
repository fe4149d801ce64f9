"""The `tcpsleuth run` configuration the live tests start the sensor with: no hugepages
(EAL --no-huge), events to a file, no control socket unless one is asked for. Each test
says only what differs from that."""
import atexit
import glob
import shutil
import signal
import subprocess


def remove_runtime_dirs_at_exit(*patterns):
    """EAL leaves /var/run/dpdk/PREFIX behind when its process ends; a test registers the
    prefixes it uses (glob patterns) and they go when it exits, whatever the outcome."""
    def remove():
        for pattern in patterns:
            for d in glob.glob(f"/var/run/dpdk/{pattern}"):
                shutil.rmtree(d, ignore_errors=True)
    atexit.register(remove)


def write_sensor_config(path, *, devices, events, prefix, mode="tap", memory_mb=512, mbufs=4095, mbuf_size=None,
                        workers=1, socket="", capacity=8192, report="none", control_extra="", output_extra="",
                        extra="", points=None):
    """Writes the configuration to `path`. `devices`: the ports' DPDK device strings, in order;
    `points`: two-point mode, each port's point ("outside" or "inside"), in the same order."""
    ports = "".join(f'[[ports]]\ndevice = "{d}"\n' + (f'point = "{points[i]}"\n' if points else "")
                    for i, d in enumerate(devices))
    with open(path, "w") as f:
        f.write(f'''mode = "{mode}"
[dpdk]
eal_args = ["--no-huge", "-m", "{memory_mb}", "--no-pci", "--no-shconf", "--file-prefix", "{prefix}"]
mbufs_per_port = {mbufs}
{f"mbuf_size = {mbuf_size}" if mbuf_size else ""}
[workers]
count = {workers}
idle_sleep_us = 50
{ports}[control]
socket = "{socket}"
{control_extra}
[output]
events = "{events}"
report = "{report}"
{output_extra}
[flows]
capacity = {capacity}
{extra}''')


def ctl(tcpsleuthctl, sock, *args):
    """One tcpsleuthctl command against the sensor's socket; the completed process."""
    return subprocess.run([tcpsleuthctl, "--socket", sock] + list(args), capture_output=True, text=True, timeout=30)


def stop_sensor(proc, problems, sig=signal.SIGINT):
    """Stops a `tcpsleuth run` started with stderr piped (SIGINT unless told), and notes in
    `problems` an exit other than 0 with the end of its log."""
    if proc.poll() is None:
        proc.send_signal(sig)
    try:
        _, log = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, log = proc.communicate()
    if proc.returncode != 0:
        problems.append(f"tcpsleuth run exited {proc.returncode}: {(log or '')[-500:]}")
