# Figure 3: wrk peak requests/s per mode and server as a ratio to native (keep-alive, 2 threads,
# 32 connections). gnuplot -e "out='DIR'" wrk.gp: DIR/wrk_plot.dat (made by bench/run from
# DIR/wrk.csv) -> DIR/wrk.png
set terminal pngcairo size 900,420 font ",9"
set output out."/wrk.png"
set title "wrk peak requests/s as a fraction of native (1 KiB, keep-alive, 2 threads, 32 connections)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set yrange [0:*]
set ylabel "x native requests/s"
set xtics rotate by -25 noenhanced
set grid ytics
set key top right noenhanced
set datafile missing "NaN"
plot out."/wrk_plot.dat" using 2:xtic(1) title columnhead, "" using 3 title columnhead
