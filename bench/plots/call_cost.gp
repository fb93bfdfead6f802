# Figure 1: median and p99 ns per write() in each mode (log scale). Run by bench/run:
#   gnuplot -e "out='DIR'" call_cost.gp      reads DIR/call_cost.csv, writes DIR/call_cost.png
set datafile separator ","
set terminal pngcairo size 800,420 font ",9"
set output out."/call_cost.png"
set title "Cost of one write() (1 byte to /dev/null): median and p99, ns (log scale)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set logscale y
set yrange [10:*]
set ylabel "ns per call"
set xtics rotate by -25 noenhanced
set key top left
set grid ytics
plot out."/call_cost.csv" every ::1 using (strcol(10) eq "ok" ? $5 : 1/0):xtic(1) title "median", \
     "" every ::1 using (strcol(10) eq "ok" ? $6 : 1/0) title "p99"
