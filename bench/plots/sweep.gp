# Figure 2: httperf responses/s against offered requests/s, one panel per server, one line per
# mode (the seed's figure). gnuplot -e "out='DIR'" sweep.gp: DIR/sweep.csv -> DIR/sweep.png
set datafile separator ","
set terminal pngcairo size 1000,420 font ",9"
set output out."/sweep.png"
set multiplot layout 1,2 title "httperf: replies/s vs offered requests/s (1 KiB, new connection per request)"
set xlabel "offered requests/s"
set ylabel "replies/s"
set key top left noenhanced
set grid
set xrange [0:*]
set yrange [0:*]
modes = "native ptrace ptrace-all notify agent strace-seccomp strace"
do for [srv in "lighttpd mini_httpd"] {
  set title srv noenhanced
  plot for [m in modes] out."/sweep.csv" using \
       ((strcol(1) eq srv && strcol(2) eq m && strcol(8) eq "ok") ? $3 : 1/0):5 \
       with linespoints title m
}
unset multiplot
